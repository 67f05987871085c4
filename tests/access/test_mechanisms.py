"""Boundaries, sessions, SCPs, RCPs, VPC endpoint policies, grants, time keys, aliases, names:
table-driven from AWS's documented behaviour; each case names its docs/semantics.md row."""

from __future__ import annotations

from typing import Any

import pytest

from kmsguard.access import decide
from tests.access.docs import (
    ACCT,
    ALICE,
    EVE,
    KEY,
    OTHER,
    ROOT,
    ROOT_DELEGATION,
    SESSION,
    TABLE,
    aws,
    doc,
    row,
    scenario,
    stmt,
)

ROLE_ARN = f"arn:aws:iam::{ACCT}:role/KeyUser"
ALLOW_ALL = doc(stmt(action="*"))
ALLOW_DECRYPT = doc(stmt(action="kms:Decrypt"))
ONLY_S3 = doc(stmt(action="s3:*"))
DENY_DECRYPT = doc(stmt("Deny", "kms:Decrypt"))
NAMES_ALICE = doc(stmt(principal=aws(ALICE), action="kms:Decrypt"))
NAMES_ROLE = doc(stmt(principal=aws(ROLE_ARN), action="kms:Decrypt"))
NAMES_SESSION = doc(stmt(principal=aws(SESSION), action="kms:Decrypt"))
DELEGATES = doc(ROOT_DELEGATION)
GRANT_ID = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d1a2b"
TIME_BOUND = doc(
    stmt(
        action="kms:Decrypt",
        condition={"DateLessThan": {"aws:CurrentTime": "2026-06-01T00:00:00Z"}},
    )
)


def grant(grantee: str, ops: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "GrantId": GRANT_ID,
        "GranteePrincipal": grantee,
        "Operations": ops or ["Decrypt"],
        **extra,
    }


def case(**kw: Any) -> dict[str, Any]:
    base = scenario(
        principal=kw.pop("principal", ALICE),
        action=kw.pop("action", "kms:Decrypt"),
        resource=kw.pop("resource", KEY),
        identity=kw.pop("identity", None),
        resource_policy=kw.pop("resource_policy", None),
        context=kw.pop("context", None),
    )
    base.update(kw)
    return base


# (id, row, scenario, effect, reason: exact for denies, substring for allows, policies named)
CASES: list[tuple[str, str, dict[str, Any], str, str, list[str] | None]] = [
    # ---- explicit deny anywhere
    (
        "deny in a permissions boundary",
        row("explicit-deny-anywhere"),
        case(identity=[ALLOW_ALL], resource_policy=DELEGATES, permissions_boundary=DENY_DECRYPT),
        "explicit_deny",
        "with an explicit deny in a permissions boundary",
        ["permissions_boundary"],
    ),
    (
        "deny in an SCP beats the key policy naming the user",
        row("explicit-deny-anywhere"),
        case(resource_policy=NAMES_ALICE, scps=[ALLOW_ALL, DENY_DECRYPT]),
        "explicit_deny",
        "with an explicit deny in a service control policy",
        ["scps[1]"],
    ),
    (
        "deny in an RCP",
        row("explicit-deny-anywhere"),
        case(
            resource_policy=NAMES_ALICE,
            rcps=[doc(stmt("Deny", "kms:*", principal="*"))],
        ),
        "explicit_deny",
        "with an explicit deny in a resource control policy",
        ["rcps[0]"],
    ),
    (
        "deny in a session policy",
        row("explicit-deny-anywhere"),
        case(
            principal=SESSION,
            identity=[ALLOW_ALL],
            resource_policy=DELEGATES,
            session_policies=[ALLOW_ALL, DENY_DECRYPT],
        ),
        "explicit_deny",
        "with an explicit deny in a session policy",
        ["session_policies[1]"],
    ),
    # ---- SCPs
    (
        "every SCP level allows",
        row("scp-every-level"),
        case(identity=[ALLOW_ALL], resource_policy=DELEGATES, scps=[ALLOW_ALL, ALLOW_DECRYPT]),
        "allow",
        "account-root delegation",
        None,
    ),
    (
        "one SCP level without an allow",
        row("scp-every-level"),
        case(resource_policy=NAMES_ALICE, scps=[ALLOW_ALL, ONLY_S3]),
        "implicit_deny",
        "no service control policy allows the kms:Decrypt action",
        [],
    ),
    (
        "SCPs do not restrict a service principal",
        row("scp-not-service"),
        case(
            principal="dynamodb.amazonaws.com",
            resource_policy=doc(stmt(principal={"Service": "dynamodb.amazonaws.com"})),
            scps=[ONLY_S3],
        ),
        "allow",
        "names the principal",
        None,
    ),
    (
        "SCPs do not restrict a service-linked role",
        row("scp-not-service"),
        case(
            principal=f"arn:aws:sts::{ACCT}:assumed-role/AWSServiceRoleForAutoScaling/s",
            resource_policy=doc(
                stmt(principal=aws(f"arn:aws:iam::{ACCT}:role/AWSServiceRoleForAutoScaling"))
            ),
            scps=[ONLY_S3],
        ),
        "allow",
        "names the principal's role",
        None,
    ),
    # ---- RCPs
    (
        "an RCP level without an allow",
        row("rcp-every-level"),
        case(resource_policy=NAMES_ALICE, rcps=[doc(stmt(principal="*", action="s3:*"))]),
        "implicit_deny",
        "no resource control policy allows the kms:Decrypt action",
        [],
    ),
    (
        "RCPFullAWSAccess lets the key policy decide",
        row("rcp-every-level"),
        case(resource_policy=NAMES_ALICE, rcps=[doc(stmt(principal="*", action="*"))]),
        "allow",
        "names the principal",
        None,
    ),
    (
        "kms:RetireGrant is not controlled by RCPs",
        row("rcp-retire-grant"),
        case(
            action="kms:RetireGrant",
            resource_policy=doc(stmt(principal=aws(ALICE), action="kms:RetireGrant")),
            rcps=[doc(stmt("Deny", "kms:*", principal="*"))],
        ),
        "allow",
        "names the principal",
        None,
    ),
    # ---- VPC endpoint policies
    (
        "an endpoint policy applies to a request through the endpoint",
        row("vpce-when-present"),
        case(
            resource_policy=NAMES_ALICE,
            vpce_policy=doc(stmt(principal="*", action="kms:Encrypt")),
            context={"aws:SourceVpce": "vpce-1a2b3c4d"},
        ),
        "implicit_deny",
        "no VPC endpoint policy allows the kms:Decrypt action",
        [],
    ),
    (
        "an endpoint policy does not see requests that do not use the endpoint",
        row("vpce-when-present"),
        case(
            resource_policy=NAMES_ALICE, vpce_policy=doc(stmt(principal="*", action="kms:Encrypt"))
        ),
        "allow",
        "names the principal",
        None,
    ),
    (
        "an endpoint policy Deny",
        row("vpce-when-present"),
        case(
            resource_policy=NAMES_ALICE,
            vpce_policy=doc(stmt(principal="*", action="*"), stmt("Deny", principal="*")),
            context={"aws:SourceVpce": "vpce-1a2b3c4d"},
        ),
        "explicit_deny",
        "with an explicit deny in a VPC endpoint policy",
        ["vpce_policy"],
    ),
    # ---- permission boundaries
    (
        "boundary caps the identity allow (same account, table)",
        row("boundary-caps-identity"),
        case(
            action="dynamodb:GetItem",
            resource=TABLE,
            identity=[ALLOW_ALL],
            permissions_boundary=ONLY_S3,
        ),
        "implicit_deny",
        "no permissions boundary allows the dynamodb:GetItem action",
        [],
    ),
    (
        "boundary and identity both allow",
        row("boundary-caps-identity"),
        case(
            action="dynamodb:GetItem",
            resource=TABLE,
            identity=[ALLOW_ALL],
            permissions_boundary=doc(stmt(action="dynamodb:*")),
        ),
        "allow",
        "within permissions boundary statement 0",
        ["identity[0]", "permissions_boundary"],
    ),
    (
        "key policy naming the user is not capped by the boundary",
        row("boundary-resource-names-user"),
        case(resource_policy=NAMES_ALICE, permissions_boundary=ONLY_S3),
        "allow",
        "names the principal",
        ["resource"],
    ),
    (
        "key policy naming the role ARN is capped by the role's boundary",
        row("boundary-resource-names-role"),
        case(principal=SESSION, resource_policy=NAMES_ROLE, permissions_boundary=ONLY_S3),
        "implicit_deny",
        "no permissions boundary allows the kms:Decrypt action",
        [],
    ),
    (
        "key policy naming the role ARN within the boundary",
        row("boundary-resource-names-role"),
        case(principal=SESSION, resource_policy=NAMES_ROLE, permissions_boundary=ALLOW_DECRYPT),
        "allow",
        "names the principal's role; within permissions boundary statement 0",
        ["resource", "permissions_boundary"],
    ),
    (
        "key policy naming the role ARN is capped by the session policy",
        row("boundary-resource-names-role"),
        case(principal=SESSION, resource_policy=NAMES_ROLE, session_policies=[ONLY_S3]),
        "implicit_deny",
        "no session policy allows the kms:Decrypt action",
        [],
    ),
    (
        "root delegation + identity allow, boundary silent",
        row("boundary-kms-delegation"),
        case(identity=[ALLOW_DECRYPT], resource_policy=DELEGATES, permissions_boundary=ONLY_S3),
        "implicit_deny",
        "no permissions boundary allows the kms:Decrypt action",
        [],
    ),
    (
        "boundary and identity allow, key policy does not: still denied",
        row("boundary-kms-delegation"),
        case(
            identity=[ALLOW_DECRYPT],
            resource_policy=doc(stmt(principal=aws(EVE))),
            permissions_boundary=ALLOW_ALL,
        ),
        "implicit_deny",
        "no resource-based policy allows the kms:Decrypt action",
        [],
    ),
    (
        "NotPrincipal Deny denies a bounded principal even when listed",
        row("boundary-notprincipal-deny"),
        case(
            resource_policy=doc(
                stmt(principal=aws(ALICE)),
                stmt("Deny", not_principal=aws(ALICE, ROOT)),
            ),
            permissions_boundary=ALLOW_ALL,
        ),
        "explicit_deny",
        "with an explicit deny in a resource-based policy",
        ["resource"],
    ),
    (
        "the same NotPrincipal Deny spares the listed principal without a boundary",
        row("boundary-notprincipal-deny"),
        case(
            resource_policy=doc(
                stmt(principal=aws(ALICE)),
                stmt("Deny", not_principal=aws(ALICE, ROOT)),
            )
        ),
        "allow",
        "names the principal",
        ["resource"],
    ),
    # ---- session policies
    (
        "session policy intersects with the role's identity policy",
        row("session-caps"),
        case(
            principal=SESSION,
            identity=[ALLOW_ALL],
            resource_policy=DELEGATES,
            session_policies=[ONLY_S3],
        ),
        "implicit_deny",
        "no session policy allows the kms:Decrypt action",
        [],
    ),
    (
        "any one of several session policies allowing is enough",
        row("session-caps"),
        case(
            principal=SESSION,
            identity=[ALLOW_ALL],
            resource_policy=DELEGATES,
            session_policies=[ONLY_S3, ALLOW_DECRYPT],
        ),
        "allow",
        "within session policy [1] statement 0",
        ["resource", "identity[0]", "session_policies[1]"],
    ),
    (
        "key policy naming the session ARN is not limited by the session policy",
        row("session-names-session"),
        case(
            principal=SESSION,
            resource_policy=NAMES_SESSION,
            session_policies=[ONLY_S3],
            permissions_boundary=ONLY_S3,
        ),
        "allow",
        "names the principal",
        ["resource"],
    ),
    (
        "Principal * counts as naming the caller itself",
        row("session-names-session"),
        case(
            principal=SESSION,
            resource_policy=doc(stmt(principal="*", action="kms:Decrypt")),
            session_policies=[ONLY_S3],
        ),
        "allow",
        "names the principal",
        ["resource"],
    ),
    # ---- grants
    (
        "a grant allows its operation without the key policy",
        row("grant-operations"),
        case(resource_policy=doc(stmt(principal=aws(EVE))), grants=[grant(ALICE)]),
        "allow",
        "allowed by grant 1a2b3c4d…, which names the principal as grantee",
        ["grants[0]"],
    ),
    (
        "a grant does not allow an operation it does not list",
        row("grant-operations"),
        case(action="kms:Encrypt", resource_policy=DELEGATES, grants=[grant(ALICE)]),
        "implicit_deny",
        "no identity-based policy allows the kms:Encrypt action",
        [],
    ),
    (
        "a grant for another key",
        row("grant-operations"),
        case(resource_policy=DELEGATES, grants=[grant(ALICE, KeyId=KEY.replace("1234", "9999"))]),
        "implicit_deny",
        "no identity-based policy allows the kms:Decrypt action",
        [],
    ),
    (
        "a grant to someone else",
        row("grant-operations"),
        case(resource_policy=DELEGATES, grants=[grant(EVE)]),
        "implicit_deny",
        "no identity-based policy allows the kms:Decrypt action",
        [],
    ),
    (
        "an explicit deny in an identity policy beats a grant",
        row("grant-explicit-deny"),
        case(identity=[DENY_DECRYPT], grants=[grant(ALICE)]),
        "explicit_deny",
        "with an explicit deny in an identity-based policy",
        ["identity[0]"],
    ),
    (
        "EncryptionContextSubset met",
        row("grant-constraints"),
        case(
            grants=[grant(ALICE, Constraints={"EncryptionContextSubset": {"Dept": "IT"}})],
            context={"kms:EncryptionContext:Dept": "IT", "kms:EncryptionContext:Other": "x"},
        ),
        "allow",
        "grant 1a2b3c4d…",
        ["grants[0]"],
    ),
    (
        "EncryptionContextSubset compares keys case-sensitively",
        row("grant-constraints"),
        case(
            grants=[grant(ALICE, Constraints={"EncryptionContextSubset": {"Dept": "IT"}})],
            context={"kms:EncryptionContext:dept": "IT"},
        ),
        "implicit_deny",
        "no resource-based policy allows the kms:Decrypt action",
        [],
    ),
    (
        "EncryptionContextEquals refuses an extra pair",
        row("grant-constraints"),
        case(
            grants=[grant(ALICE, Constraints={"EncryptionContextEquals": {"Dept": "IT"}})],
            context={"kms:EncryptionContext:Dept": "IT", "kms:EncryptionContext:Other": "x"},
        ),
        "implicit_deny",
        "no resource-based policy allows the kms:Decrypt action",
        [],
    ),
    (
        "a grant to the role ARN is capped by the role's boundary",
        row("grant-role-capped"),
        case(principal=SESSION, grants=[grant(ROLE_ARN)], permissions_boundary=ONLY_S3),
        "implicit_deny",
        "no permissions boundary allows the kms:Decrypt action",
        [],
    ),
    (
        "a grant to the role ARN within its session policy",
        row("grant-role-capped"),
        case(principal=SESSION, grants=[grant(ROLE_ARN)], session_policies=[ALLOW_DECRYPT]),
        "allow",
        "to the principal's role; within session policy [0] statement 0",
        ["grants[0]", "session_policies[0]"],
    ),
    (
        "a grant to the user ARN is not capped by its boundary",
        row("grant-role-capped"),
        case(grants=[grant(ALICE)], permissions_boundary=ONLY_S3),
        "allow",
        "grant 1a2b3c4d…",
        ["grants[0]"],
    ),
    (
        "a grant to the account needs the identity policy",
        row("grant-account"),
        case(grants=[grant(ROOT)]),
        "implicit_deny",
        "no resource-based policy allows the kms:Decrypt action",
        [],
    ),
    (
        "a grant to the account with an identity allow",
        row("grant-account"),
        case(identity=[ALLOW_DECRYPT], grants=[grant(ROOT)]),
        "allow",
        "to the principal's account together with identity policy identity[0] statement 0",
        ["grants[0]", "identity[0]"],
    ),
    (
        "a grant to a principal of another account",
        row("grant-cross-account"),
        case(principal=EVE, resource_policy=DELEGATES, grants=[grant(EVE)]),
        "allow",
        "grant 1a2b3c4d…",
        ["grants[0]"],
    ),
    # ---- time keys
    (
        "request_time before the DateLessThan bound",
        row("time-keys"),
        case(identity=[TIME_BOUND], resource_policy=DELEGATES, request_time="2026-05-31T23:59:59Z"),
        "allow",
        "account-root delegation",
        None,
    ),
    (
        "request_time after the bound (zone-less time is UTC)",
        row("time-keys"),
        case(identity=[TIME_BOUND], resource_policy=DELEGATES, request_time="2026-06-01T00:00:00"),
        "implicit_deny",
        "no identity-based policy allows the kms:Decrypt action",
        [],
    ),
    (
        "aws:EpochTime from request_time",
        row("time-keys"),
        case(
            identity=[
                doc(
                    stmt(
                        action="kms:Decrypt",
                        condition={"NumericGreaterThanEquals": {"aws:EpochTime": "1780272000"}},
                    )
                )
            ],
            resource_policy=DELEGATES,
            request_time="2026-06-01T00:00:00+00:00",
        ),
        "allow",
        "account-root delegation",
        None,
    ),
    # ---- aliases
    (
        "CreateAlias on the alias is authorized by the IAM policy",
        row("alias-resource"),
        case(
            action="kms:CreateAlias",
            resource=f"arn:aws:kms:us-east-1:{ACCT}:alias/orders",
            identity=[
                doc(stmt(action="kms:CreateAlias", resource=f"arn:aws:kms:*:{ACCT}:alias/*"))
            ],
        ),
        "allow",
        "allowed by identity policy identity[0] statement 0",
        ["identity[0]"],
    ),
    (
        "an alias without an IAM policy allowing it",
        row("alias-resource"),
        case(action="kms:DeleteAlias", resource=f"arn:aws:kms:us-east-1:{ACCT}:alias/orders"),
        "implicit_deny",
        "no identity-based policy allows the kms:DeleteAlias action",
        [],
    ),
    # ---- variables that cannot be resolved
    (
        "NotResource with an unresolvable variable does not apply (Deny)",
        row("variable-unresolved"),
        case(
            identity=[
                ALLOW_DECRYPT,
                doc(stmt("Deny", not_resource="arn:aws:kms:*:*:key/${aws:userid}")),
            ],
            resource_policy=DELEGATES,
        ),
        "allow",
        "account-root delegation",
        None,
    ),
    (
        "NotResource with an unresolvable variable does not apply (Allow)",
        row("variable-unresolved"),
        case(
            identity=[
                doc(stmt(action="kms:Decrypt", not_resource="arn:aws:kms:*:*:key/${aws:userid}"))
            ],
            resource_policy=DELEGATES,
        ),
        "implicit_deny",
        "no identity-based policy allows the kms:Decrypt action",
        [],
    ),
    (
        "StringNotEquals against an unresolvable variable does not apply",
        row("variable-unresolved"),
        case(
            identity=[
                doc(
                    stmt(
                        action="kms:Decrypt",
                        condition={
                            "StringNotEquals": {"kms:CallerAccount": "${aws:SourceAccount}"}
                        },
                    )
                )
            ],
            resource_policy=DELEGATES,
        ),
        "implicit_deny",
        "no identity-based policy allows the kms:Decrypt action",
        [],
    ),
    (
        "IfExists on an absent key still holds",
        row("variable-unresolved"),
        case(
            identity=[
                doc(
                    stmt(
                        action="kms:Decrypt",
                        condition={
                            "StringEqualsIfExists": {"aws:SourceAccount": "${aws:SourceOwner}"}
                        },
                    )
                )
            ],
            resource_policy=DELEGATES,
        ),
        "allow",
        "account-root delegation",
        None,
    ),
    # ---- unreadable values and multivalued keys
    (
        "NumericNotEquals on an unreadable value does not apply",
        row("unreadable-value"),
        case(
            identity=[
                ALLOW_DECRYPT,
                doc(stmt("Deny", condition={"NumericNotEquals": {"s3:max-keys": "10"}})),
            ],
            resource_policy=DELEGATES,
            context={"s3:max-keys": "ten"},
        ),
        "allow",
        "account-root delegation",
        None,
    ),
    (
        "NotIpAddress on an unreadable address does not apply",
        row("unreadable-value"),
        case(
            identity=[
                ALLOW_DECRYPT,
                doc(stmt("Deny", condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
            ],
            resource_policy=DELEGATES,
            context={"aws:SourceIp": "not-an-ip"},
        ),
        "allow",
        "account-root delegation",
        None,
    ),
    (
        "plain StringEquals on a multivalued key: any value matching",
        row("multivalued-no-qualifier"),
        case(
            identity=[
                doc(stmt(action="kms:Decrypt", condition={"StringEquals": {"aws:TagKeys": "team"}}))
            ],
            resource_policy=DELEGATES,
            context={"aws:TagKeys": ["env", "team"]},
        ),
        "allow",
        "account-root delegation",
        None,
    ),
    (
        "plain StringNotEquals on a multivalued key: no value may match",
        row("multivalued-no-qualifier"),
        case(
            identity=[
                doc(
                    stmt(
                        action="kms:Decrypt", condition={"StringNotEquals": {"aws:TagKeys": "team"}}
                    )
                )
            ],
            resource_policy=DELEGATES,
            context={"aws:TagKeys": ["env", "team"]},
        ),
        "implicit_deny",
        "no identity-based policy allows the kms:Decrypt action",
        [],
    ),
    # ---- names
    (
        "a key policy naming user/Alice lets user alice in",
        row("names-case-insensitive"),
        case(resource_policy=doc(stmt(principal=aws(ALICE.replace("alice", "Alice"))))),
        "allow",
        "names the principal",
        ["resource"],
    ),
    (
        "a key policy naming role/KEYUSER lets a session of KeyUser in",
        row("names-case-insensitive"),
        case(
            principal=SESSION,
            resource_policy=doc(stmt(principal=aws(f"arn:aws:iam::{ACCT}:role/KEYUSER"))),
        ),
        "allow",
        "names the principal's role",
        ["resource"],
    ),
    (
        "a grant to user/ALICE is alice's",
        row("names-case-insensitive"),
        case(grants=[grant(ALICE.replace("alice", "ALICE"))]),
        "allow",
        "grant 1a2b3c4d…",
        ["grants[0]"],
    ),
    (
        "aws:username keeps its case-sensitive comparison",
        row("names-case-insensitive"),
        case(
            identity=[
                doc(
                    stmt(
                        action="kms:Decrypt", condition={"StringEquals": {"aws:username": "Alice"}}
                    )
                )
            ],
            resource_policy=DELEGATES,
        ),
        "implicit_deny",
        "no identity-based policy allows the kms:Decrypt action",
        [],
    ),
    (
        "a bare account id is the account principal",
        row("short-account-principal"),
        case(identity=[ALLOW_DECRYPT], resource_policy=doc(stmt(principal=aws(ACCT)))),
        "allow",
        "account-root delegation",
        ["resource", "identity[0]"],
    ),
    (
        "NotPrincipal Deny listing only the role does not spare its session",
        row("notprincipal-role-session"),
        case(
            principal=SESSION,
            resource_policy=doc(
                stmt(principal="*"), stmt("Deny", not_principal=aws(ROLE_ARN, ROOT))
            ),
        ),
        "explicit_deny",
        "with an explicit deny in a resource-based policy",
        ["resource"],
    ),
    (
        "NotPrincipal Deny listing session, role and account spares the session",
        row("notprincipal-role-session"),
        case(
            principal=SESSION,
            resource_policy=doc(
                stmt(principal="*"), stmt("Deny", not_principal=aws(SESSION, ROLE_ARN, ROOT))
            ),
        ),
        "allow",
        "names the principal",
        ["resource"],
    ),
]


@pytest.mark.parametrize(
    ("row_name", "scenario_", "effect", "reason", "policies"),
    [pytest.param(c[1], c[2], c[3], c[4], c[5], id=f"{c[1]}: {c[0]}") for c in CASES],
)
def test_mechanism(
    row_name: str, scenario_: dict[str, Any], effect: str, reason: str, policies: list[str] | None
) -> None:
    d = decide(scenario_)
    assert d.effect == effect, (row_name, d)
    if effect == "allow":
        assert reason in d.reason, (row_name, d.reason)
    else:
        assert d.reason == reason, (row_name, d.reason)
    if policies is not None:
        assert [s.policy for s in d.statements] == policies, (row_name, d.statements)


def test_grant_decision_names_the_grant_id() -> None:
    row_name = row("grant-operations")
    d = decide(case(grants=[grant(ALICE)]))
    assert d.statements[0].sid == GRANT_ID, row_name
    assert d.to_json()["statements"][0] == {
        "policy": "grants[0]",
        "sid": GRANT_ID,
        "index": 0,
        "effect": "Allow",
    }


def test_unmet_grant_constraint_is_explained() -> None:
    row_name = row("grant-constraints")
    d = decide(
        case(
            grants=[grant(ALICE, Constraints={"EncryptionContextEquals": {"Dept": "IT"}})],
            context={"kms:EncryptionContext:Dept": "HR"},
        )
    )
    assert not d.allowed
    assert "grant 1a2b3c4d… (EncryptionContextEquals {'Dept': 'IT'}) would allow" in d.detail, (
        row_name
    )


def test_time_defaults_to_now() -> None:
    row_name = row("time-keys")
    past = case(
        identity=[
            doc(
                stmt(
                    action="kms:Decrypt",
                    condition={"DateLessThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}},
                )
            )
        ],
        resource_policy=DELEGATES,
    )
    assert not decide(past).allowed, row_name


def test_explicit_denials_use_aws_words_in_the_message() -> None:
    row_name = row("explicit-deny-anywhere")
    d = decide(case(resource_policy=NAMES_ALICE, scps=[DENY_DECRYPT]))
    assert d.message().endswith(
        "is not authorized to perform: kms:Decrypt on resource: "
        f"{KEY} with an explicit deny in a service control policy"
    ), row_name
    other = decide(case(principal=EVE, resource=KEY.replace(ACCT, OTHER), scps=[ONLY_S3]))
    assert other.message().endswith(
        "because no service control policy allows the kms:Decrypt action"
    )


def test_a_grant_as_json_parses_back_as_listgrants_spells_its_operations() -> None:
    from kmsguard.access.grants import parse_grant

    raw = {"GrantId": "g-1", "GranteePrincipal": ALICE, "Operations": ["Decrypt", "ReEncryptFrom"]}
    grant = parse_grant(raw)
    assert grant.to_json()["Operations"] == ["Decrypt", "ReEncryptFrom"]
    assert parse_grant(grant.to_json()) == grant
