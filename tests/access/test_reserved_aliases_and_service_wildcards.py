"""Reserved `alias/aws/` aliases and wildcards in an action's service prefix."""

from __future__ import annotations

import pytest

from kmsguard.access import decide, evaluate, parse_policy

from .docs import ACCT, ALICE, OTHER, ROOT, TABLE, doc, row, scenario, stmt

ALIAS_ALL = f"arn:aws:kms:*:{ACCT}:alias/*"


def alias(name: str) -> str:
    return f"arn:aws:kms:us-east-1:{ACCT}:{name}"


@pytest.mark.parametrize("action", ["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"])
@pytest.mark.parametrize("principal", [ALICE, ROOT])
def test_reserved_alias_writes_are_denied_whatever_the_policies(
    action: str, principal: str
) -> None:
    row("alias-reserved")
    identity = [doc(stmt(action="*", resource="*")), doc(stmt(action=action, resource=ALIAS_ALL))]
    d = decide(scenario(principal, action, alias("alias/aws/dynamodb"), identity=identity))
    assert d.effect == "explicit_deny"
    assert "alias/aws/" in d.reason and "reserved" in d.reason
    assert d.statements == ()
    assert "reserved" in d.message()


@pytest.mark.parametrize("action", ["KMS:createalias", "kms:DELETEALIAS"])
def test_reserved_alias_action_case_does_not_matter(action: str) -> None:
    row("alias-reserved")
    identity = [doc(stmt(action="*"))]
    assert decide(scenario(ALICE, action, alias("alias/aws/s3"), identity=identity)).effect == (
        "explicit_deny"
    )


def test_reserved_alias_with_a_deep_name_and_another_region() -> None:
    row("alias-reserved")
    res = f"arn:aws:kms:eu-west-1:{ACCT}:alias/aws/a/b/c"
    d = decide(scenario(ALICE, "kms:CreateAlias", res, identity=[doc(stmt(action="kms:*"))]))
    assert d.effect == "explicit_deny"


@pytest.mark.parametrize(
    "name",
    [
        "alias/orders",
        "alias/awsome",  # shares the letters, not the prefix
        "alias/aws",  # no trailing slash: not under alias/aws/
        "alias/AWS/orders",  # compared as written
        "alias/my/aws/orders",
    ],
)
def test_other_aliases_follow_the_policies(name: str) -> None:
    row("alias-reserved")
    identity = [doc(stmt(action="kms:CreateAlias", resource=ALIAS_ALL))]
    allowed = decide(scenario(ALICE, "kms:CreateAlias", alias(name), identity=identity))
    assert allowed.effect == "allow"
    assert decide(scenario(ALICE, "kms:CreateAlias", alias(name))).effect == "implicit_deny"


def test_other_actions_on_a_reserved_alias_follow_the_policies() -> None:
    row("alias-reserved")
    identity = [doc(stmt(action="kms:ListAliases", resource="*"))]
    d = decide(scenario(ALICE, "kms:ListAliases", alias("alias/aws/dynamodb"), identity=identity))
    assert d.effect == "allow"


def test_reserved_alias_through_evaluate_with_parsed_policies() -> None:
    row("alias-reserved")
    ids = [parse_policy(doc(stmt(action="kms:*")), kind="identity")]
    d = evaluate(
        ALICE,
        "kms:UpdateAlias",
        alias("alias/aws/ebs"),
        identity_policies=ids,
        resource_policy=None,
    )
    assert d.effect == "explicit_deny"


GET = "dynamodb:GetItem"


@pytest.mark.parametrize(
    ("pattern", "action", "allowed"),
    [
        ("*:GetItem", GET, True),
        ("*:GetItem", "dax:GetItem", True),
        ("*:getitem", GET, True),
        ("dynamo*:GetItem", GET, True),
        ("DYNAMO*:GetItem", GET, True),
        ("dynamo*:GetItem", "dax:GetItem", False),
        ("dynamo*:GetItem", "dynamodb:PutItem", False),
        ("dynamodb?:GetItem", GET, False),  # `?` is exactly one character
        ("dynamod?:GetItem", GET, True),
        ("*:Get*", GET, True),
        ("*:*", GET, True),
        ("*b:GetItem", GET, True),
        ("*a:GetItem", GET, False),
        ("kms*:GetItem", GET, False),
    ],
)
def test_wildcard_in_the_service_prefix(pattern: str, action: str, allowed: bool) -> None:
    row("action-service-wildcard")
    res = TABLE if action.startswith("dynamodb:") else "arn:aws:dax:us-east-1:111122223333:cache/c"
    d = decide(scenario(ALICE, action, res, identity=[doc(stmt(action=pattern))]))
    assert d.allowed is allowed, (pattern, action, d)


@pytest.mark.parametrize("pattern", ["*:GetItem", "dynamo*:GetItem"])
def test_service_wildcard_in_deny_and_not_action(pattern: str) -> None:
    row("action-service-wildcard")
    identity = [doc(stmt(action="*"), stmt("Deny", action=pattern))]
    assert decide(scenario(ALICE, GET, TABLE, identity=identity)).effect == "explicit_deny"
    # NotAction with the pattern: everything else, so not GetItem.
    only_others = [doc(stmt(not_action=pattern))]
    assert not decide(scenario(ALICE, GET, TABLE, identity=only_others)).allowed
    assert decide(scenario(ALICE, "dynamodb:PutItem", TABLE, identity=only_others)).allowed


def test_service_wildcard_in_a_cross_account_key_policy() -> None:
    row("action-service-wildcard")
    eve = f"arn:aws:iam::{OTHER}:user/eve"
    key = f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    key_policy = doc(stmt(action="k*:Decrypt", principal={"AWS": eve}))
    identity = [doc(stmt(action="*:Decrypt"))]
    d = decide(scenario(eve, "kms:Decrypt", key, identity=identity, resource_policy=key_policy))
    assert d.allowed
