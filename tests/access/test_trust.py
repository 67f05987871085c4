"""Role trust policies: sts:AssumeRole needs the trust policy's explicit allow, even in-account."""

from __future__ import annotations

from typing import Any

import pytest

from kmsguard.access import PolicyDocumentError, decide, parse_policy
from tests.access.docs import (
    ACCT,
    ALICE,
    BOB,
    EVE,
    OTHER_ROOT,
    ROOT,
    SESSION,
    aws,
    doc,
    row,
    scenario,
)

TARGET = f"arn:aws:iam::{ACCT}:role/deployer"
ASSUME = "sts:AssumeRole"
ALLOW_ASSUME = doc({"Effect": "Allow", "Action": ASSUME, "Resource": TARGET})
NO_RES = "no resource-based policy allows the sts:AssumeRole action"
NO_ID = "no identity-based policy allows the sts:AssumeRole action"


def trust(principal: Any, effect: str = "Allow", **extra: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": effect, "Principal": principal, "Action": ASSUME, **extra}
    return {"Version": "2012-10-17", "Statement": [st]}


def assume(
    principal: str = ALICE, identity: list | None = None, trust_policy: Any = None, **kw: Any
) -> dict[str, Any]:
    out = scenario(principal=principal, action=kw.pop("action", ASSUME), resource=TARGET)
    out["identity_policies"] = identity or []
    out["resource_policy"] = None
    if trust_policy is not None:
        out["trust_policy"] = trust_policy
    out.update(kw)
    return out


# (id, row, scenario, effect, reason fragment)
CASES: list[tuple[str, str, dict[str, Any], str, str]] = [
    (
        "trust policy naming the user allows without any identity policy",
        row("trust-explicit"),
        assume(trust_policy=trust(aws(ALICE))),
        "allow",
        "allowed by the role's trust policy statement 0, which names the principal",
    ),
    (
        "identity policy alone is not enough in the same account",
        row("trust-explicit"),
        assume(identity=[ALLOW_ASSUME], trust_policy=trust(aws(BOB))),
        "implicit_deny",
        NO_RES,
    ),
    (
        "a role whose trust policy is not given cannot be assumed",
        row("trust-explicit"),
        assume(identity=[ALLOW_ASSUME]),
        "implicit_deny",
        NO_RES,
    ),
    (
        "trust in the account root delegates to identity policies: allowed with one",
        row("trust-explicit"),
        assume(identity=[ALLOW_ASSUME], trust_policy=trust(aws(ROOT))),
        "allow",
        "role's trust policy's account-root delegation",
    ),
    (
        "trust in the account root without an identity policy",
        row("trust-explicit"),
        assume(trust_policy=trust(aws(ROOT))),
        "implicit_deny",
        NO_ID,
    ),
    (
        "cross-account caller named in the trust policy still needs its identity policy",
        row("trust-explicit"),
        assume(principal=EVE, trust_policy=trust(aws(EVE))),
        "implicit_deny",
        NO_ID,
    ),
    (
        "cross-account caller with trust in its account and an identity allow",
        row("trust-explicit"),
        assume(principal=EVE, identity=[ALLOW_ASSUME], trust_policy=trust(aws(OTHER_ROOT))),
        "allow",
        "allowed cross-account by the role's trust policy",
    ),
    (
        "role chaining: a session of a role named by its role ARN",
        row("trust-explicit"),
        assume(principal=SESSION, trust_policy=trust(aws(f"arn:aws:iam::{ACCT}:role/app/KeyUser"))),
        "allow",
        "names the principal",
    ),
    (
        "explicit deny in the trust policy beats the identity allow",
        row("trust-explicit"),
        assume(
            identity=[ALLOW_ASSUME],
            trust_policy={
                "Statement": [
                    trust(aws(ROOT))["Statement"][0],
                    trust(aws(ALICE), effect="Deny")["Statement"][0],
                ]
            },
        ),
        "explicit_deny",
        "with an explicit deny in a resource-based policy",
    ),
    (
        "an unmet sts:ExternalId condition",
        row("trust-explicit"),
        assume(
            trust_policy=trust(
                aws(ALICE), Condition={"StringEquals": {"sts:ExternalId": "expected-id"}}
            ),
            context={"sts:ExternalId": "other"},
        ),
        "implicit_deny",
        NO_RES,
    ),
    (
        "a service principal trusted by the role",
        row("trust-explicit"),
        assume(principal="ec2.amazonaws.com", trust_policy=trust({"Service": "ec2.amazonaws.com"})),
        "allow",
        "names the principal",
    ),
    (
        "sts:TagSession is also governed by the trust policy",
        row("trust-sts-only"),
        assume(
            action="sts:TagSession",
            identity=[doc({"Effect": "Allow", "Action": "sts:*", "Resource": "*"})],
            trust_policy=trust(aws(BOB)),
        ),
        "implicit_deny",
        "no resource-based policy allows the sts:TagSession action",
    ),
    (
        "iam:GetRole on the role ignores the trust policy (standard same-account rule)",
        row("trust-sts-only"),
        assume(
            action="iam:GetRole",
            identity=[doc({"Effect": "Allow", "Action": "iam:GetRole", "Resource": TARGET})],
            trust_policy=trust(aws(BOB)),
        ),
        "allow",
        "allowed by identity policy identity[0] statement 0",
    ),
]


@pytest.mark.parametrize(
    ("row_name", "case", "effect", "reason"),
    [pytest.param(c[1], c[2], c[3], c[4], id=c[0]) for c in CASES],
)
def test_trust_policy(row_name: str, case: dict[str, Any], effect: str, reason: str) -> None:
    d = decide(case)
    assert d.effect == effect, d
    assert reason in d.reason or reason in d.detail, d


def test_decision_names_the_trust_statement() -> None:
    row_name = row("trust-explicit")
    d = decide(assume(trust_policy=trust(aws(ALICE))))
    assert [(s.policy, s.index) for s in d.statements] == [("trust", 0)], row_name


def test_trust_policy_parses_without_resource() -> None:
    row_name = row("trust-no-resource")
    policy = parse_policy(trust(aws(ALICE)), kind="trust")
    assert policy.kind == "trust", row_name
    assert policy.statements[0].resource_matches(TARGET, {})


@pytest.mark.parametrize(
    ("document", "path", "fragment"),
    [
        (
            {"Statement": [{**trust(aws(ALICE))["Statement"][0], "Resource": "*"}]},
            "trust.Statement[0].Resource",
            "must not have Resource",
        ),
        (
            {"Statement": [{**trust(aws(ALICE))["Statement"][0], "NotResource": "*"}]},
            "trust.Statement[0].NotResource",
            "must not have NotResource",
        ),
        (
            {"Statement": [{"Effect": "Allow", "Action": ASSUME}]},
            "trust.Statement[0]",
            "needs Principal or NotPrincipal",
        ),
    ],
)
def test_malformed_trust_policy_names_document_and_path(
    document: dict[str, Any], path: str, fragment: str
) -> None:
    row_name = row("trust-no-resource")
    with pytest.raises(PolicyDocumentError) as err:
        decide(assume(trust_policy=document))
    assert str(err.value).startswith(f"{path}: "), (row_name, str(err.value))
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"resource": f"arn:aws:kms:us-east-1:{ACCT}:key/k"}, "is not a role ARN"),
        (
            {
                "resource_policy": doc(
                    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
                )
            },
            "not both",
        ),
    ],
)
def test_trust_policy_refused_where_it_cannot_belong(change: dict[str, Any], fragment: str) -> None:
    row_name = row("trust-sts-only")
    case = {**assume(trust_policy=trust(aws(ALICE))), **change}
    with pytest.raises(PolicyDocumentError) as err:
        decide(case)
    assert str(err.value).startswith("trust_policy: "), row_name
    assert fragment in str(err.value)
