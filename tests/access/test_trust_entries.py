"""The ways into a role its trust policy opens, which of them are undeclared, and chains."""

from __future__ import annotations

from typing import Any

import pytest

from kmsguard.access import PolicyDocumentError
from kmsguard.access.trust import (
    ACCOUNT,
    ANYONE,
    CANONICAL,
    FEDERATED,
    PRINCIPAL,
    SERVICE,
    Chain,
    Entry,
    entries,
    lets_in_undeclared,
)
from tests.access.docs import row

ACCT = "123456789012"
USER = f"arn:aws:iam::{ACCT}:user/dev"


def trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any, action: Any = "sts:AssumeRole", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, **extra}


def test_each_kind_of_principal_is_a_way_in() -> None:
    row_name = row("trust-become")
    doc = trust(
        allow(
            {
                "AWS": ["*", "111122223333", USER],
                "Service": "ec2.amazonaws.com",
                "Federated": "cognito-identity.amazonaws.com",
                "CanonicalUser": "79a59df900b949e55d96a1e698fbaced",
            },
            ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"],
        )
    )
    kinds = [(e.kind, e.name) for e in entries(doc)]
    assert kinds == [
        (ANYONE, "*"),
        (ACCOUNT, "111122223333"),
        (PRINCIPAL, USER),
        (SERVICE, "ec2.amazonaws.com"),
        (FEDERATED, "cognito-identity.amazonaws.com"),
        (CANONICAL, "79a59df900b949e55d96a1e698fbaced"),
    ], row_name


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param({"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"}, id="deny"),
        pytest.param(allow("*", "sts:TagSession"), id="TagSession only"),
        pytest.param(allow("*", "iam:GetRole"), id="another service"),
        pytest.param(allow("*", NotAction="sts:Assume*") | {"Action": None}, id="NotAction"),
    ],
)
def test_statements_that_cannot_let_anyone_become_the_role(statement: dict[str, Any]) -> None:
    statement = {k: v for k, v in statement.items() if v is not None}
    assert entries(trust(statement)) == []


def test_saml_and_case_count_and_conditions_are_flagged() -> None:
    doc = trust(
        allow(
            {"Federated": f"arn:aws:iam::{ACCT}:saml-provider/idp"},
            "STS:AssumeRoleWithSaml",
            Sid="Sso",
            Condition={"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
        )
    )
    [e] = entries(doc)
    assert e == Entry(FEDERATED, f"arn:aws:iam::{ACCT}:saml-provider/idp", "statement 'Sso'", True)
    assert e.describe() == (
        f"identities of arn:aws:iam::{ACCT}:saml-provider/idp (trust policy statement 'Sso', "
        "when its conditions hold)"
    )


def test_an_invalid_trust_policy_is_refused_naming_where() -> None:
    with pytest.raises(PolicyDocumentError, match=r"^trust\.Statement\[0\]\.Resource: "):
        entries(trust(allow("*", Resource="*")))


@pytest.mark.parametrize(
    ("entry", "undeclared"),
    [
        (Entry(ANYONE, "*", "statement 0", False), True),
        (Entry(SERVICE, "lambda.amazonaws.com", "statement 0", False), False),
        (Entry(ACCOUNT, ACCT, "statement 0", False), False),
        (Entry(ACCOUNT, "111122223333", "statement 0", False), True),
        (Entry(PRINCIPAL, USER.upper().replace("ARN:AWS:IAM", "arn:aws:iam"), "s", False), False),
        (Entry(PRINCIPAL, f"arn:aws:iam::{ACCT}:user/other", "statement 0", False), True),
        (Entry(ACCOUNT, "999999999999", "statement 0", False), False),
    ],
)
def test_which_ways_in_are_undeclared(entry: Entry, undeclared: bool) -> None:
    judged = {USER.lower()}
    declared = {"arn:aws-cn:iam::999999999999:root"}  # any partition's root declares it
    assert lets_in_undeclared(entry, ACCT, judged, declared) is undeclared


def test_a_chain_shows_its_first_steps_and_sums_up_the_rest() -> None:
    chain = Chain.start("kms:Decrypt as r0")
    for i in range(1, 21):
        chain = chain.via(f"sts:AssumeRole r{i - 1}")
    assert chain.depth == 20 and chain.last == "kms:Decrypt as r0"
    assert chain.text() == (
        ", then ".join(f"sts:AssumeRole r{i}" for i in range(19, 11, -1))
        + ", then 12 more sts:AssumeRole steps, then kms:Decrypt as r0"
    )
    short = Chain.start("kms:Decrypt as r0").via("sts:AssumeRole r0")
    assert short.text() == "sts:AssumeRole r0, then kms:Decrypt as r0"
