"""Classifying AWS error shapes, and the key policy diff by statement."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from kmsguard.contract import Sid
from kmsguard.keypolicy import KeyPolicyRoles, build_key_policy
from verification.config_checks import diff_key_policy
from verification.probes import ALLOW, DENY, DENY_OTHER, ERROR, Observation, classify
from verification.verdicts import MISMATCH, PASS

KEY = "arn:aws:kms:us-east-1:123456789012:key/k"
USER = "arn:aws:iam::123456789012:user/u"


def err(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Op")


@pytest.mark.parametrize(
    ("exc", "kind", "code"),
    [
        (
            err(
                "AccessDeniedException",
                f"User: {USER} is not authorized to perform: kms:Decrypt on resource: {KEY} "
                "because no resource-based policy allows the kms:Decrypt action",
            ),
            DENY,
            "kms:Decrypt",
        ),
        (
            err(
                "AccessDeniedException", "KMS key access denied error: ... not allowed kms:Decrypt"
            ),
            DENY,
            "kms:Decrypt",
        ),
        (err("KMSAccessDeniedException", "no access"), DENY, "KMSAccessDeniedException"),
        (
            err(
                "AccessDeniedException",
                f"User: {USER} is not authorized to perform: dynamodb:DescribeTable on resource: t",
            ),
            DENY_OTHER,
            "dynamodb:DescribeTable",
        ),
        (err("ThrottlingException", "Rate exceeded"), ERROR, "ThrottlingException"),
        (err("ResourceNotFoundException", "no table"), ERROR, "ResourceNotFoundException"),
        (err("UnrecognizedClientException", "bad token"), ERROR, "UnrecognizedClientException"),
        (
            EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
            ERROR,
            "EndpointConnectionError",
        ),
    ],
)
def test_only_kms_refusals_count_as_deny(exc: Exception, kind: str, code: str) -> None:
    obs = classify(exc)
    assert (obs.kind, obs.code) == (kind, code)


def test_observations_compare_without_detail() -> None:
    assert Observation(DENY, "kms:Decrypt", "request 1") == Observation(DENY, "kms:Decrypt", "r2")
    assert Observation(ALLOW) != Observation(DENY, "kms:Decrypt")


def policy(users: tuple[str, ...] = ()) -> dict:
    return build_key_policy(
        KeyPolicyRoles("123456789012", "us-east-1", administrators=(USER,), users=users)
    )


def test_equal_policies_pass_despite_order_and_single_element_lists() -> None:
    declared = policy()
    deployed = copy.deepcopy(declared)
    admin = deployed["Statement"][1]
    admin["Action"] = list(reversed(admin["Action"]))
    admin["Principal"] = {"AWS": [USER]}
    deployed["Statement"].reverse()
    rows = diff_key_policy(declared, deployed)
    assert {r.verdict for r in rows} == {PASS}
    assert [r.check for r in rows] == [f"key.policy[{Sid.ROOT}]", f"key.policy[{Sid.ADMINS}]"]


def test_drift_is_reported_statement_by_statement() -> None:
    declared = policy()
    deployed = copy.deepcopy(declared)
    deployed["Statement"][0]["Action"] = "kms:Decrypt"  # root statement narrowed
    sneaky = {
        "Sid": "Added",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "kms:*",
        "Resource": "*",
    }
    deployed["Statement"].append(sneaky)
    del deployed["Statement"][1]  # administrators removed
    rows = {r.check: r for r in diff_key_policy(declared, deployed)}
    assert rows[f"key.policy[{Sid.ROOT}]"].verdict == MISMATCH
    assert (
        'Action: declared "kms:*", deployed "kms:Decrypt"' in rows[f"key.policy[{Sid.ROOT}]"].detail
    )
    assert rows[f"key.policy[{Sid.ADMINS}]"].observed == "(missing)"
    assert rows["key.policy[Added]"].expected == "(not declared)"
    assert rows["key.policy[Added]"].verdict == MISMATCH


def _key_policy() -> dict[str, Any]:

    return build_key_policy(
        KeyPolicyRoles(
            account_id="111122223333",
            region="us-east-1",
            administrators=["arn:aws:iam::111122223333:user/admin"],
            users=["arn:aws:iam::111122223333:user/app"],
        )
    )


_KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_semantic_drift_reordered_and_reformatted_is_equivalent() -> None:
    from verification.config_checks import semantic_drift
    from verification.verdicts import PASS

    declared = _key_policy()
    deployed = json.loads(json.dumps(declared))
    deployed["Statement"].reverse()
    for st in deployed["Statement"]:
        if isinstance(st["Action"], list):
            st["Action"] = list(reversed(st["Action"]))
    row = semantic_drift(declared, deployed, _KEY)
    assert (row.observed, row.verdict) == ("equivalent", PASS)


def test_semantic_drift_new_access_is_a_mismatch_with_the_witness() -> None:
    from verification.config_checks import semantic_drift
    from verification.verdicts import MISMATCH, PASS

    declared = _key_policy()
    deployed = json.loads(json.dumps(declared))
    for st in deployed["Statement"]:
        st.pop("Condition", None)
    row = semantic_drift(declared, deployed, _KEY)
    assert (
        row.verdict == MISMATCH
        and "deployed allows: arn:aws:iam::111122223333:user/app may" in (row.detail)
    )
    narrower = json.loads(json.dumps(declared))
    narrower["Statement"] = narrower["Statement"][:-1]
    row = semantic_drift(declared, narrower, _KEY)
    assert (
        row.verdict == PASS and row.observed == "grants less" and "no longer allowed" in row.detail
    )
