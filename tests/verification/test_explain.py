"""The explainer reads a principal's policies as deployed into the domain Subject it evaluates."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from kmsguard.access.subject import PolicySource, Subject
from tests.verification.test_grants import FACTS, USER, FakeIam, FakeKms
from verification.explain import Explainer

ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
S3 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


class _EncodedIam(FakeIam):
    """IAM answering with URL-encoded JSON text, as the API itself sends documents."""

    def get_user_policy(self, **_: Any) -> dict[str, Any]:
        return {"PolicyDocument": quote(json.dumps(ALL))}


def test_the_explainer_reads_the_users_policies_and_boundary_named_by_origin() -> None:
    explainer = Explainer(FakeIam(), FakeKms([]), FACTS, "us-east-1")
    assert explainer.subject(USER) == Subject(
        USER,
        "user",
        (PolicySource("inline policy all", ALL),),
        PolicySource(f"permissions boundary {FakeIam.boundary_arn}", S3),
    )


def test_a_url_encoded_document_is_read_not_an_unavailable_explanation() -> None:
    explainer = Explainer(_EncodedIam(), FakeKms([]), FACTS, "us-east-1")
    assert explainer.subject(USER).identity_policies == (PolicySource("inline policy all", ALL),)
    text = explainer.explain(USER, "dynamodb:GetItem")
    assert text.startswith("dynamodb:GetItem: implicit deny, no permissions boundary allows")
