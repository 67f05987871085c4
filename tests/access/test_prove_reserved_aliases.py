"""The prover knows `alias/aws/` is reserved: no request to a customer managed key names one."""

from __future__ import annotations

from typing import Any

import pytest

from kmsguard.access import evaluate
from kmsguard.access.prove import Key, no_new_access, no_public_access
from kmsguard.access.prove.concretize import assumed_identity_policy
from tests.access.docs import row

A = "111122223333"
OUTSIDER = "arn:aws:iam::444455556666:root"
KEY = Key.in_account(A)
ROOT = {
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
ALIAS_WRITES = ("kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias")


def _policy(action: str | list[str], condition: dict[str, Any]) -> dict[str, Any]:
    anyone = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": action,
        "Resource": "*",
        "Condition": condition,
    }
    return {"Version": "2012-10-17", "Statement": [ROOT, anyone]}


def _allowed(policy: dict[str, Any], action: str, resource: str, context: dict[str, Any]) -> bool:
    return evaluate(
        OUTSIDER,
        action,
        resource,
        identity_policies=[assumed_identity_policy(action, resource)],
        resource_policy=policy,
        context=context,
    ).allowed


# Each allows only requests naming a reserved alias; the context is one such request.
RESERVED_ONLY = [
    ("kms:Decrypt", {"StringLike": {"kms:RequestAlias": "alias/aws/*"}}, "kms:RequestAlias"),
    ("kms:Decrypt", {"StringEquals": {"kms:RequestAlias": "alias/aws/ebs"}}, "kms:RequestAlias"),
    (
        "kms:Encrypt",
        {"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/aws/*"}},
        "kms:ResourceAliases",
    ),
    *(
        (
            a,
            {"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/aws/*"}},
            "kms:ResourceAliases",
        )
        for a in ALIAS_WRITES
    ),
]


@pytest.mark.parametrize(("action", "condition", "key"), RESERVED_ONLY)
def test_a_grant_only_through_a_reserved_alias_is_neither_public_nor_new(
    action: str, condition: dict[str, Any], key: str
) -> None:
    row("alias-reserved")
    policy = _policy(action, condition)
    # The evaluator, handed such a request, allows it: only the reservation makes it impossible.
    value: Any = "alias/aws/ebs"
    if key == "kms:ResourceAliases":
        value = [value]
    assert _allowed(policy, action, KEY.arn, {key: value})
    public = no_public_access(policy, [A], key=KEY, timeout_s=30)
    assert public.status == "pass", public.to_json()
    new = no_new_access(
        {"Version": "2012-10-17", "Statement": [ROOT]}, policy, key=KEY, timeout_s=30
    )
    assert new.status == "pass", new.to_json()


@pytest.mark.parametrize("action", ALIAS_WRITES)
def test_alias_writes_on_a_reserved_alias_are_denied_whatever_the_prover_was_told(
    action: str,
) -> None:
    row("alias-reserved")
    policy = _policy(action, {"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/aws/*"}})
    reserved = f"arn:aws:kms:us-east-1:{A}:alias/aws/ebs"
    # The evaluator refuses the write on the reserved alias itself (an alias is authorized by
    # IAM policies only), an identity policy allowing everything notwithstanding.
    anything = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    on_alias = evaluate(
        OUTSIDER, action, reserved, identity_policies=[anything], resource_policy=None
    )
    assert on_alias.effect == "explicit_deny" and "reserved" in on_alias.reason
    verdict = no_public_access(policy, [A], key=KEY, actions=[action], timeout_s=30)
    assert verdict.status == "pass", verdict.to_json()


@pytest.mark.parametrize(
    ("condition", "key"),
    [
        ({"StringLike": {"kms:RequestAlias": "alias/*"}}, "kms:RequestAlias"),
        # Compared as written, like the evaluator: these are not under alias/aws/.
        ({"StringEquals": {"kms:RequestAlias": "alias/AWS/ebs"}}, "kms:RequestAlias"),
        ({"StringLike": {"kms:RequestAlias": "alias/aws*"}}, "kms:RequestAlias"),
        ({"StringEqualsIgnoreCase": {"kms:RequestAlias": "ALIAS/AWS/EBS"}}, "kms:RequestAlias"),
        ({"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/*"}}, "kms:ResourceAliases"),
    ],
)
def test_other_alias_names_stay_public_and_the_witness_names_no_reserved_alias(
    condition: dict[str, Any], key: str
) -> None:
    row("alias-reserved")
    policy = _policy("kms:Decrypt", condition)
    verdict = no_public_access(policy, [A], key=KEY, timeout_s=30)
    assert verdict.status == "fail", verdict.to_json()
    w = verdict.witness
    assert w is not None
    value = w.context[key]
    for name in value if isinstance(value, list) else [value]:
        assert not name.startswith("alias/aws/"), w.context
    assert evaluate(
        w.principal,
        w.action,
        w.resource,
        identity_policies=[assumed_identity_policy(w.action, w.resource)],
        resource_policy=policy,
        context=w.context,
    ).allowed
