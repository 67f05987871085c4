"""The rules' reach prefilter: which stack principals an identity Allow may let at a resource."""

from __future__ import annotations

import json
from typing import Any

from kmsguard.contract import AwsType
from policies.rules._principals import (
    PrincipalReach,
    arns_for_resource,
    boundary_of,
    readable,
    unknown_reasons,
)
from policies.stack.graph import StackView
from policies.stack.principals import StackSubject, stack_subjects
from tests.policies.helpers import ACCOUNT, KEY_ARN, Res, stack_args

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
OTHER_KEY = KEY_ARN.replace("1111-2222", "3333-4444")


def user(name: str, *statements: dict[str, Any], policy: str | None = None) -> list[Res]:
    u = Res(AwsType.IAM_USER, name, {"name": name, "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}"})
    text = policy or json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    p = Res(AwsType.IAM_USER_POLICY, f"{name}-p", {"user": name, "policy": text}, user=[u.urn])
    return [u, p]


def allow(resource: Any, action: str = "kms:Decrypt", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def subjects(*users: list[Res]) -> list[StackSubject]:
    items = [r for u in users for r in u]
    return stack_subjects(StackView(stack_args(items).resources))


def names(found: list[StackSubject]) -> list[str]:
    return [p.node.name for p in found]


def test_an_allow_naming_exact_keys_reaches_those_keys_only_in_any_case() -> None:
    reach = PrincipalReach(subjects(user("exact", allow(KEY_ARN.upper()))), "kms:Decrypt")
    assert names(reach.for_resource({KEY_ARN}, ())) == ["exact"]
    assert reach.for_resource({OTHER_KEY}, ()) == []


def test_patterns_unknown_policies_and_unknown_arns_reach_everywhere() -> None:
    found = subjects(
        user("star", allow("*")),
        user("glob", allow("arn:aws:kms:*:*:key/*")),
        user("variable", allow(KEY_ARN + "${aws:username}")),
        user("not-resource", {"Effect": "Allow", "Action": "kms:*", "NotResource": OTHER_KEY}),
        user("pending", policy=UNKNOWN),
    )
    ghost = Res(AwsType.IAM_USER, "ghost", {"arn": UNKNOWN})
    found += stack_subjects(StackView(stack_args([ghost]).resources))
    reach = PrincipalReach(found, "kms:Decrypt")
    assert names(reach.everywhere) == [
        "star",
        "glob",
        "variable",
        "not-resource",
        "pending",
        "ghost",
    ]


def test_a_principal_no_statement_lets_act_is_offered_only_when_named() -> None:
    found = subjects(
        user("reader", allow("*", "dynamodb:GetItem")),
        user("denied", {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}),
        user("broken", policy="{not json"),
    )
    reach = PrincipalReach(found, "kms:Decrypt")
    assert reach.everywhere == [] and reach.for_resource({KEY_ARN}, ()) == []
    named = f"arn:aws:iam::{ACCOUNT}:user/READER"  # IAM names are case-insensitive
    assert names(reach.for_resource({KEY_ARN}, [named])) == ["reader"]
    assert names(reach.in_accounts([ACCOUNT, "111122223333"])) == ["reader", "denied", "broken"]


def test_the_evaluator_is_given_the_parsed_documents_and_told_what_is_unknown() -> None:
    [p] = subjects(user("u", policy=UNKNOWN))
    assert readable(p) == [] and unknown_reasons(p) == "UserPolicy u-p unknown"
    assert boundary_of(p) is None
    [p] = subjects(user("u", allow("*")))
    assert [d.origin for d in readable(p)] == ["UserPolicy u-p"] and unknown_reasons(p) == ""


def test_the_arns_offered_by_several_reaches_are_those_each_offers() -> None:
    found = subjects(
        user("exact", allow(KEY_ARN)),
        user("star", allow("*", "dynamodb:*")),
        user("other", allow(OTHER_KEY)),
        user("named", allow("*", "s3:GetObject")),
    )
    ghost = Res(AwsType.IAM_USER, "ghost", {"arn": UNKNOWN})  # reaches everywhere, has no ARN
    found += stack_subjects(StackView(stack_args([ghost]).resources))
    reaches = [PrincipalReach(found, a) for a in ("kms:Decrypt", "dynamodb:GetItem")]
    named = {f"arn:aws:iam::{ACCOUNT}:user/named"}
    expected = {
        p.subject.arn for r in reaches for p in r.for_resource({KEY_ARN}, named) if p.subject.arn
    }
    assert arns_for_resource(reaches, {KEY_ARN.lower()}, named) == expected
    assert expected == {f"arn:aws:iam::{ACCOUNT}:user/{n}" for n in ("exact", "star", "named")}
    assert arns_for_resource([], {KEY_ARN}, named) == set()
