"""The key's grants as findings, and boundaries and grants in denial explanations."""

from __future__ import annotations

from typing import Any

from verification.explain import Explainer
from verification.grants import grant_findings
from verification.outputs import StackFacts
from verification.verdicts import MISMATCH, NOT_VERIFIABLE, PASS

ACCT = "123456789012"
KEY = f"arn:aws:kms:us-east-1:{ACCT}:key/k"
USER = f"arn:aws:iam::{ACCT}:user/x"
DECLARED = f"arn:aws:iam::{ACCT}:user/app"
GID = "1a2b3c4d" + "0" * 56
FACTS = StackFacts(
    table_name="t",
    table_arn=f"arn:aws:dynamodb:us-east-1:{ACCT}:table/t",
    key_id="k",
    key_arn=KEY,
    key_alias="alias/t",
    test_user_name="x",
    test_user_arn=USER,
    key_administrator_arns=(),
    key_user_arns=(DECLARED,),
    expectations=(),
)


def grant(grantee: str, **extra: Any) -> dict[str, Any]:
    return {
        "KeyId": KEY,
        "GrantId": GID,
        "GranteePrincipal": grantee,
        "Operations": ["Decrypt", "DescribeKey"],
        "IssuingAccount": f"arn:aws:iam::{ACCT}:root",
        "CreationDate": "2026-01-01T00:00:00Z",
        **extra,
    }


def test_grant_to_an_undeclared_user_is_a_mismatch_naming_it() -> None:
    rows = grant_findings([grant(USER, Constraints={"EncryptionContextSubset": {"a": "b"}})], FACTS)
    assert [r.verdict for r in rows] == [MISMATCH]
    assert rows[0].check == "key.grants[1a2b3c4d…]"
    assert rows[0].observed == "grant 1a2b3c4d… lets user/x Decrypt, DescribeKey"
    assert GID in rows[0].detail and "EncryptionContextSubset {'a': 'b'}" in rows[0].detail


def test_grants_of_aws_services_and_declared_users_pass() -> None:
    service = grant(
        "dynamodb.us-east-1.amazonaws.com", RetiringPrincipal="dynamodb.us-east-1.amazonaws.com"
    )
    declared = grant(DECLARED.replace("app", "APP"))  # IAM names are case-insensitive
    rows = grant_findings([service, declared], FACTS)
    assert [(r.check, r.verdict) for r in rows] == [("key.grants", PASS)]
    assert grant_findings([], FACTS)[0].observed == "no grants"


def test_an_unreadable_grant_is_not_verifiable() -> None:
    rows = grant_findings([grant(USER, Operations=["Peek"])], FACTS)
    assert rows[0].verdict == NOT_VERIFIABLE and "'Peek' is not a grant operation" in rows[0].detail


class _Pages:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return self.pages


class FakeIam:
    """A user with AmazonDynamoDBFullAccess-like access and a boundary allowing only S3."""

    boundary_arn = f"arn:aws:iam::{ACCT}:policy/only-s3"

    def get_paginator(self, name: str) -> _Pages:
        if name == "list_user_policies":
            return _Pages([{"PolicyNames": ["all"]}])
        if name == "list_attached_user_policies":
            return _Pages([{"AttachedPolicies": []}])
        return _Pages([{"Groups": []}])

    def get_user_policy(self, **_: Any) -> dict[str, Any]:
        doc = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        return {"PolicyDocument": doc}

    def get_user(self, **_: Any) -> dict[str, Any]:
        return {"User": {"PermissionsBoundary": {"PermissionsBoundaryArn": self.boundary_arn}}}

    def get_policy(self, **_: Any) -> dict[str, Any]:
        return {"Policy": {"DefaultVersionId": "v1"}}

    def get_policy_version(self, **_: Any) -> dict[str, Any]:
        doc = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        return {"PolicyVersion": {"Document": doc}}


class FakeKms:
    def __init__(self, grants: list[dict[str, Any]]) -> None:
        self.grants = grants

    def get_key_policy(self, **_: Any) -> dict[str, str]:
        import json

        root = {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
        return {"Policy": json.dumps({"Version": "2012-10-17", "Statement": [root]})}

    def get_paginator(self, name: str) -> _Pages:
        assert name == "list_grants"
        return _Pages([{"Grants": self.grants}])


def test_a_denial_explanation_names_the_permissions_boundary() -> None:
    text = Explainer(FakeIam(), FakeKms([]), FACTS, "us-east-1").explain(USER, "dynamodb:GetItem")
    assert text.startswith("dynamodb:GetItem: implicit deny, no permissions boundary allows")


def test_an_allow_explanation_names_the_grant() -> None:
    explainer = Explainer(FakeIam(), FakeKms([grant(USER)]), FACTS, "us-east-1")
    assert explainer.explain(USER, "kms:Decrypt") == (
        "kms:Decrypt: allowed by grant 1a2b3c4d…, which names the principal as grantee"
    )


def test_organization_policies_appear_in_the_explanation() -> None:
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "kms:*", "Resource": "*"}],
    }
    explainer = Explainer(FakeIam(), FakeKms([grant(USER)]), FACTS, "us-east-1", scps=(deny,))
    assert explainer.explain(USER, "kms:Decrypt").startswith(
        "kms:Decrypt: explicit deny, with an explicit deny in a service control policy"
    )
