"""Table-driven cases from AWS's policy-evaluation and KMS key-policy documentation."""

from __future__ import annotations

from typing import Any

import pytest

from kmsguard.access import decide
from tests.access.docs import (
    ACCT,
    ADMIN_ROLE,
    ALICE,
    BOB,
    DDB,
    EVE,
    KEY,
    OTHER_KEY,
    OTHER_ROOT,
    ROLE,
    ROOT,
    ROOT_DELEGATION,
    SESSION,
    TABLE,
    VIA_DDB,
    aws,
    doc,
    scenario,
    stmt,
)

NO_ID = "no identity-based policy allows the {a} action"
NO_RES = "no resource-based policy allows the {a} action"
DENY_ID = "with an explicit deny in an identity-based policy"
DENY_RES = "with an explicit deny in a resource-based policy"

ALLOW_DECRYPT = doc(stmt(action="kms:Decrypt"))
KEY_USERS_VIA_DDB = stmt(
    sid="AllowKeyUseViaDynamoDB",
    principal=aws(ALICE),
    action=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
    condition={"StringEquals": {"kms:ViaService": DDB, "kms:CallerAccount": ACCT}},
)

# (id, scenario, effect, reason: exact for denies, substring for allows, [(policy, index)])
CASES: list[tuple[str, dict[str, Any], str, str, list[tuple[str, int]] | None]] = [
    (
        "root delegation plus identity allow",
        scenario(identity=[ALLOW_DECRYPT], resource_policy=doc(ROOT_DELEGATION)),
        "allow",
        "account-root delegation (statement 'EnableRootAccountIamDelegation') together with "
        "identity policy identity[0] statement 0",
        [("resource", 0), ("identity[0]", 0)],
    ),
    (
        "root delegation without identity policy",
        scenario(resource_policy=doc(ROOT_DELEGATION)),
        "implicit_deny",
        NO_ID,
        [],
    ),
    (
        "bare account id delegates like the root ARN",
        scenario(identity=[ALLOW_DECRYPT], resource_policy=doc(stmt(principal=aws(ACCT)))),
        "allow",
        "account-root delegation",
        [("resource", 0), ("identity[0]", 0)],
    ),
    (
        "identity allow is useless without key policy delegation",
        scenario(identity=[ALLOW_DECRYPT], resource_policy=doc(stmt(principal=aws(BOB)))),
        "implicit_deny",
        NO_RES,
        [],
    ),
    (
        "a KMS key without a key policy allows nobody",
        scenario(identity=[ALLOW_DECRYPT], resource_policy=None),
        "implicit_deny",
        NO_RES,
        [],
    ),
    (
        "key policy naming the user needs no identity policy",
        scenario(resource_policy=doc(stmt(sid="Users", principal=aws(ALICE)))),
        "allow",
        "key policy statement 'Users', which names the principal",
        [("resource", 0)],
    ),
    (
        "identity deny beats key policy naming the user",
        scenario(
            identity=[doc(stmt("Deny", "kms:Decrypt"))],
            resource_policy=doc(stmt(principal=aws(ALICE))),
        ),
        "explicit_deny",
        DENY_ID,
        [("identity[0]", 0)],
    ),
    (
        "key policy deny beats root delegation plus identity allow",
        scenario(
            identity=[ALLOW_DECRYPT],
            resource_policy=doc(ROOT_DELEGATION, stmt("Deny", "kms:Decrypt", principal=aws(ALICE))),
        ),
        "explicit_deny",
        DENY_RES,
        [("resource", 1)],
    ),
    (
        "deny naming the account applies to its users",
        scenario(
            resource_policy=doc(
                stmt(principal=aws(ALICE)), stmt("Deny", "kms:Decrypt", principal=aws(ROOT))
            )
        ),
        "explicit_deny",
        DENY_RES,
        [("resource", 1)],
    ),
    (
        "ViaService and CallerAccount satisfied through DynamoDB",
        scenario(resource_policy=doc(KEY_USERS_VIA_DDB), context=VIA_DDB),
        "allow",
        "AllowKeyUseViaDynamoDB",
        [("resource", 0)],
    ),
    (
        "ViaService condition blocks a direct call",
        scenario(resource_policy=doc(KEY_USERS_VIA_DDB)),
        "implicit_deny",
        NO_RES,
        [],
    ),
    (
        "ViaService of another region does not match",
        scenario(
            resource_policy=doc(KEY_USERS_VIA_DDB),
            context={"kms:ViaService": "dynamodb.eu-west-1.amazonaws.com"},
        ),
        "implicit_deny",
        NO_RES,
        [],
    ),
    (
        "CallerAccount supplied by the caller wins over the derived one",
        scenario(
            resource_policy=doc(KEY_USERS_VIA_DDB),
            context={**VIA_DDB, "kms:CallerAccount": "999999999999"},
        ),
        "implicit_deny",
        NO_RES,
        [],
    ),
    (
        "Principal * with CallerAccount condition admits the account's users",
        scenario(
            resource_policy=doc(
                stmt(principal="*", condition={"StringEquals": {"kms:CallerAccount": ACCT}})
            )
        ),
        "allow",
        "names the principal",
        [("resource", 0)],
    ),
    (
        "Principal * with CallerAccount condition keeps other accounts out",
        scenario(
            principal=EVE,
            identity=[ALLOW_DECRYPT],
            resource_policy=doc(
                stmt(principal="*", condition={"StringEquals": {"kms:CallerAccount": ACCT}})
            ),
        ),
        "implicit_deny",
        NO_RES,
        [],
    ),
    (
        "AWS * principal allows everyone in the account",
        scenario(resource_policy=doc(stmt(principal=aws("*")))),
        "allow",
        "names the principal",
        [("resource", 0)],
    ),
    (
        "NotAction allows everything but the listed action",
        scenario(
            identity=[doc(stmt(not_action="kms:ScheduleKeyDeletion"))],
            resource_policy=doc(ROOT_DELEGATION),
        ),
        "allow",
        "identity[0] statement 0",
        [("resource", 0), ("identity[0]", 0)],
    ),
    (
        "NotAction excludes the listed action",
        scenario(
            action="kms:ScheduleKeyDeletion",
            identity=[doc(stmt(not_action=["kms:ScheduleKeyDeletion", "kms:Disable*"]))],
            resource_policy=doc(ROOT_DELEGATION),
        ),
        "implicit_deny",
        NO_ID,
        [],
    ),
    (
        "Deny with NotPrincipal hits principals not listed",
        scenario(
            action="kms:DisableKey",
            resource_policy=doc(
                stmt(principal=aws(ALICE)),
                stmt("Deny", "kms:Disable*", not_principal=aws(ADMIN_ROLE, ROOT)),
            ),
        ),
        "explicit_deny",
        DENY_RES,
        [("resource", 1)],
    ),
    (
        "Deny with NotPrincipal spares a listed principal and its account",
        scenario(
            principal=ADMIN_ROLE,
            action="kms:DisableKey",
            resource_policy=doc(
                stmt(principal=aws(ADMIN_ROLE)),
                stmt("Deny", "kms:Disable*", not_principal=aws(ADMIN_ROLE, ROOT)),
            ),
        ),
        "allow",
        "names the principal",
        [("resource", 0)],
    ),
    (
        "NotPrincipal without the account ARN still denies (AWS documented behaviour)",
        scenario(
            principal=ADMIN_ROLE,
            action="kms:DisableKey",
            resource_policy=doc(
                stmt(principal=aws(ADMIN_ROLE)),
                stmt("Deny", "kms:Disable*", not_principal=aws(ADMIN_ROLE)),
            ),
        ),
        "explicit_deny",
        DENY_RES,
        [("resource", 1)],
    ),
    (
        "action wildcard and case-insensitive action",
        scenario(
            action="KMS:decrypt",
            identity=[doc(stmt(action="kms:Decr*"))],
            resource_policy=doc(ROOT_DELEGATION),
        ),
        "allow",
        "identity[0]",
        None,
    ),
    (
        "single-character action wildcard",
        scenario(identity=[doc(stmt(action="kms:?ecrypt"))], resource_policy=doc(ROOT_DELEGATION)),
        "allow",
        "identity[0]",
        None,
    ),
    (
        "action wildcard that does not cover the action",
        scenario(identity=[doc(stmt(action="kms:Enc*"))], resource_policy=doc(ROOT_DELEGATION)),
        "implicit_deny",
        NO_ID,
        [],
    ),
    (
        "resource ARN wildcard in an identity policy",
        scenario(
            identity=[doc(stmt(action="kms:Decrypt", resource=f"arn:aws:kms:*:{ACCT}:key/*"))],
            resource_policy=doc(ROOT_DELEGATION),
        ),
        "allow",
        "identity[0]",
        None,
    ),
    (
        "identity policy scoped to another key",
        scenario(
            identity=[doc(stmt(action="kms:Decrypt", resource=OTHER_KEY))],
            resource_policy=doc(ROOT_DELEGATION),
        ),
        "implicit_deny",
        NO_ID,
        [],
    ),
    (
        "resource matching is case-sensitive",
        scenario(
            identity=[doc(stmt(action="kms:Decrypt", resource=KEY.replace(":key/", ":KEY/")))],
            resource_policy=doc(ROOT_DELEGATION),
        ),
        "implicit_deny",
        NO_ID,
        [],
    ),
    (
        "identity deny with NotResource",
        scenario(
            identity=[ALLOW_DECRYPT, doc(stmt("Deny", "kms:*", not_resource=OTHER_KEY))],
            resource_policy=doc(ROOT_DELEGATION),
        ),
        "explicit_deny",
        DENY_ID,
        [("identity[1]", 0)],
    ),
    (
        "StringEqualsIfExists passes when the key is absent",
        scenario(
            identity=[
                doc(
                    stmt(
                        action="kms:Decrypt",
                        condition={"StringEqualsIfExists": {"kms:ViaService": DDB}},
                    )
                )
            ],
            resource_policy=doc(ROOT_DELEGATION),
        ),
        "allow",
        "identity[0]",
        None,
    ),
    (
        "StringEqualsIfExists fails when the key has another value",
        scenario(
            identity=[
                doc(
                    stmt(
                        action="kms:Decrypt",
                        condition={"StringEqualsIfExists": {"kms:ViaService": DDB}},
                    )
                )
            ],
            resource_policy=doc(ROOT_DELEGATION),
            context={"kms:ViaService": "s3.us-east-1.amazonaws.com"},
        ),
        "implicit_deny",
        NO_ID,
        [],
    ),
    (
        "a role ARN in the key policy matches the role's sessions",
        scenario(principal=SESSION, resource_policy=doc(stmt(principal=aws(ROLE)))),
        "allow",
        "names the principal",
        [("resource", 0)],
    ),
    (
        "the account root user is allowed by the root statement itself",
        scenario(principal=ROOT, resource_policy=doc(ROOT_DELEGATION)),
        "allow",
        "names the principal",
        [("resource", 0)],
    ),
    (
        "the root user still needs the key policy",
        scenario(principal=ROOT, resource_policy=doc(stmt(principal=aws(ALICE)))),
        "implicit_deny",
        NO_RES,
        [],
    ),
    (
        "the root user needs no identity policy for a table in its account",
        scenario(principal=ROOT, action="dynamodb:GetItem", resource=TABLE),
        "allow",
        "account root user has every permission",
        [],
    ),
    (
        "an external root user needs only the key policy's trust",
        scenario(
            principal=OTHER_ROOT,
            resource_policy=doc(stmt(sid="Partner", principal=aws(OTHER_ROOT))),
        ),
        "allow",
        "the account root user needs no identity-based policy",
        [("resource", 0)],
    ),
    (
        "service principal named in the key policy",
        scenario(
            principal="dynamodb.amazonaws.com",
            action="kms:DescribeKey",
            resource_policy=doc(stmt(principal={"Service": "dynamodb.amazonaws.com"})),
        ),
        "allow",
        "names the principal",
        [("resource", 0)],
    ),
    (
        "cross-account: key policy trusts the other account and its IAM allows",
        scenario(
            principal=EVE,
            identity=[ALLOW_DECRYPT],
            resource_policy=doc(ROOT_DELEGATION, stmt(sid="Partner", principal=aws(OTHER_ROOT))),
        ),
        "allow",
        "allowed cross-account by the key policy statement 'Partner' together with identity",
        [("resource", 1), ("identity[0]", 0)],
    ),
    (
        "cross-account: naming the external user still needs its IAM policy",
        scenario(principal=EVE, resource_policy=doc(stmt(principal=aws(EVE)))),
        "implicit_deny",
        NO_ID,
        [],
    ),
    (
        "cross-account: the external account's IAM alone is not enough",
        scenario(principal=EVE, identity=[ALLOW_DECRYPT], resource_policy=doc(ROOT_DELEGATION)),
        "implicit_deny",
        NO_RES,
        [],
    ),
    (
        "table: same-account identity policy suffices",
        scenario(
            action="dynamodb:GetItem",
            resource=TABLE,
            identity=[doc(stmt(action="dynamodb:*", resource=TABLE))],
        ),
        "allow",
        "allowed by identity policy identity[0] statement 0",
        [("identity[0]", 0)],
    ),
    (
        "table: same-account resource policy naming the user suffices",
        scenario(
            action="dynamodb:GetItem",
            resource=TABLE,
            resource_policy=doc(stmt(action="dynamodb:GetItem", principal=aws(ALICE))),
        ),
        "allow",
        "resource-based policy statement 0",
        [("resource", 0)],
    ),
    (
        "table: nothing allows",
        scenario(action="dynamodb:GetItem", resource=TABLE),
        "implicit_deny",
        NO_ID,
        [],
    ),
    (
        "table: resource policy deny",
        scenario(
            action="dynamodb:GetItem",
            resource=TABLE,
            identity=[doc(stmt(action="dynamodb:*"))],
            resource_policy=doc(stmt("Deny", "dynamodb:*", principal="*")),
        ),
        "explicit_deny",
        DENY_RES,
        [("resource", 0)],
    ),
    (
        "table: cross-account needs the resource policy too",
        scenario(
            principal=EVE,
            action="dynamodb:GetItem",
            resource=TABLE,
            identity=[doc(stmt(action="dynamodb:*"))],
        ),
        "implicit_deny",
        NO_RES,
        [],
    ),
    (
        "table: cross-account with both sides allowing",
        scenario(
            principal=EVE,
            action="dynamodb:GetItem",
            resource=TABLE,
            identity=[doc(stmt(action="dynamodb:*"))],
            resource_policy=doc(stmt(action="dynamodb:GetItem", principal=aws(EVE))),
        ),
        "allow",
        "cross-account",
        [("resource", 0), ("identity[0]", 0)],
    ),
    (
        "policy variable ${aws:username} in Resource",
        scenario(
            action="dynamodb:GetItem",
            resource=f"arn:aws:dynamodb:us-east-1:{ACCT}:table/alice-data",
            identity=[
                doc(
                    stmt(
                        action="dynamodb:*", resource="arn:aws:dynamodb:*:*:table/${aws:username}-*"
                    )
                )
            ],
        ),
        "allow",
        "identity[0]",
        None,
    ),
    (
        "policy variable resolves to the caller, not another user",
        scenario(
            principal=BOB,
            action="dynamodb:GetItem",
            resource=f"arn:aws:dynamodb:us-east-1:{ACCT}:table/alice-data",
            identity=[
                doc(
                    stmt(
                        action="dynamodb:*", resource="arn:aws:dynamodb:*:*:table/${aws:username}-*"
                    )
                )
            ],
        ),
        "implicit_deny",
        NO_ID,
        [],
    ),
    (
        "Version 2008-10-17 treats ${...} literally",
        scenario(
            action="dynamodb:GetItem",
            resource=f"arn:aws:dynamodb:us-east-1:{ACCT}:table/alice-data",
            identity=[
                doc(
                    stmt(
                        action="dynamodb:*", resource="arn:aws:dynamodb:*:*:table/${aws:username}-*"
                    ),
                    version="2008-10-17",
                )
            ],
        ),
        "implicit_deny",
        NO_ID,
        [],
    ),
    (
        "variable in a condition value: ${aws:PrincipalAccount}",
        scenario(
            resource_policy=doc(
                stmt(
                    principal="*",
                    condition={"StringEquals": {"kms:CallerAccount": "${aws:PrincipalAccount}"}},
                )
            )
        ),
        "allow",
        "names the principal",
        None,
    ),
    (
        "Bool GrantIsForAWSResource true (boolean context value)",
        scenario(
            action="kms:CreateGrant",
            resource_policy=doc(
                stmt(
                    action="kms:CreateGrant",
                    principal=aws(ALICE),
                    condition={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                )
            ),
            context={"kms:GrantIsForAWSResource": True},
        ),
        "allow",
        "names the principal",
        None,
    ),
    (
        "Bool GrantIsForAWSResource missing",
        scenario(
            action="kms:CreateGrant",
            resource_policy=doc(
                stmt(
                    action="kms:CreateGrant",
                    principal=aws(ALICE),
                    condition={"Bool": {"kms:GrantIsForAWSResource": True}},
                )
            ),
        ),
        "implicit_deny",
        NO_RES,
        [],
    ),
    (
        "Null condition denies direct use of the key",
        scenario(
            identity=[ALLOW_DECRYPT],
            resource_policy=doc(
                ROOT_DELEGATION,
                stmt(
                    "Deny",
                    "kms:Decrypt",
                    principal="*",
                    condition={"Null": {"kms:ViaService": "true"}},
                ),
            ),
        ),
        "explicit_deny",
        DENY_RES,
        [("resource", 1)],
    ),
    (
        "Null condition lets use through a service pass",
        scenario(
            identity=[ALLOW_DECRYPT],
            resource_policy=doc(
                ROOT_DELEGATION,
                stmt(
                    "Deny",
                    "kms:Decrypt",
                    principal="*",
                    condition={"Null": {"kms:ViaService": "true"}},
                ),
            ),
            context=VIA_DDB,
        ),
        "allow",
        "account-root delegation",
        None,
    ),
    (
        "negated operator on a missing key is true (deny applies)",
        scenario(
            identity=[ALLOW_DECRYPT],
            resource_policy=doc(
                ROOT_DELEGATION,
                stmt(
                    "Deny",
                    "kms:*",
                    principal="*",
                    condition={"StringNotEquals": {"kms:ViaService": DDB}},
                ),
            ),
        ),
        "explicit_deny",
        DENY_RES,
        [("resource", 1)],
    ),
    (
        "ForAnyValue:StringLike on a multi-valued key",
        scenario(
            action="kms:TagResource",
            resource_policy=doc(
                stmt(
                    principal=aws(ALICE),
                    condition={"ForAnyValue:StringLike": {"aws:TagKeys": ["team*"]}},
                )
            ),
            context={"aws:TagKeys": ["env", "team-a"]},
        ),
        "allow",
        "names the principal",
        None,
    ),
    (
        "ForAnyValue on a missing key is false",
        scenario(
            action="kms:TagResource",
            resource_policy=doc(
                stmt(
                    principal=aws(ALICE),
                    condition={"ForAnyValue:StringLike": {"aws:TagKeys": ["team*"]}},
                )
            ),
        ),
        "implicit_deny",
        NO_RES,
        [],
    ),
    (
        "ForAllValues requires every value to match",
        scenario(
            action="kms:TagResource",
            resource_policy=doc(
                stmt(
                    principal=aws(ALICE),
                    condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}},
                )
            ),
            context={"aws:TagKeys": ["env", "owner"]},
        ),
        "implicit_deny",
        NO_RES,
        [],
    ),
    (
        "ForAllValues on a missing key is true",
        scenario(
            action="kms:TagResource",
            resource_policy=doc(
                stmt(
                    principal=aws(ALICE),
                    condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}},
                )
            ),
        ),
        "allow",
        "names the principal",
        None,
    ),
    (
        "NumericLessThan on MFA age",
        scenario(
            identity=[
                doc(
                    stmt(
                        action="kms:Decrypt",
                        condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
                    )
                )
            ],
            resource_policy=doc(ROOT_DELEGATION),
            context={"aws:MultiFactorAuthAge": 120},
        ),
        "allow",
        "identity[0]",
        None,
    ),
    (
        "NumericLessThan with the key missing",
        scenario(
            identity=[
                doc(
                    stmt(
                        action="kms:Decrypt",
                        condition={"NumericLessThan": {"aws:MultiFactorAuthAge": 3600}},
                    )
                )
            ],
            resource_policy=doc(ROOT_DELEGATION),
        ),
        "implicit_deny",
        NO_ID,
        [],
    ),
    (
        "DateLessThan on aws:CurrentTime",
        scenario(
            identity=[
                doc(
                    stmt(
                        action="kms:Decrypt",
                        condition={"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}},
                    )
                )
            ],
            resource_policy=doc(ROOT_DELEGATION),
            context={"aws:CurrentTime": "2026-11-28T12:00:00Z"},
        ),
        "allow",
        "identity[0]",
        None,
    ),
    (
        "DateGreaterThan not yet reached",
        scenario(
            identity=[
                doc(
                    stmt(
                        action="kms:Decrypt",
                        condition={"DateGreaterThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}},
                    )
                )
            ],
            resource_policy=doc(ROOT_DELEGATION),
            context={"aws:CurrentTime": "2026-11-28T12:00:00Z"},
        ),
        "implicit_deny",
        NO_ID,
        [],
    ),
    (
        "IpAddress inside the CIDR",
        scenario(
            identity=[
                doc(
                    stmt(
                        action="kms:Decrypt",
                        condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                    )
                )
            ],
            resource_policy=doc(ROOT_DELEGATION),
            context={"aws:SourceIp": "10.1.2.3"},
        ),
        "allow",
        "identity[0]",
        None,
    ),
    (
        "NotIpAddress deny outside the CIDR",
        scenario(
            identity=[
                ALLOW_DECRYPT,
                doc(
                    stmt(
                        "Deny",
                        "kms:*",
                        condition={"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}},
                    )
                ),
            ],
            resource_policy=doc(ROOT_DELEGATION),
            context={"aws:SourceIp": "192.168.1.1"},
        ),
        "explicit_deny",
        DENY_ID,
        [("identity[1]", 0)],
    ),
    (
        "ArnLike on the derived aws:PrincipalArn",
        scenario(
            resource_policy=doc(
                stmt(
                    principal="*",
                    condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:user/*"}},
                )
            )
        ),
        "allow",
        "names the principal",
        None,
    ),
    (
        "ArnEquals on a role session's aws:PrincipalArn (the role ARN)",
        scenario(
            principal=SESSION,
            resource_policy=doc(
                stmt(
                    principal="*",
                    condition={
                        "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:role/KeyUser"}
                    },
                )
            ),
        ),
        "allow",
        "names the principal",
        None,
    ),
    (
        "StringEqualsIgnoreCase",
        scenario(
            resource_policy=doc(
                stmt(
                    principal=aws(ALICE),
                    condition={"StringEqualsIgnoreCase": {"kms:ViaService": DDB.upper()}},
                )
            ),
            context=VIA_DDB,
        ),
        "allow",
        "names the principal",
        None,
    ),
    (
        "multiple values of one key are OR-ed, multiple keys AND-ed",
        scenario(
            resource_policy=doc(
                stmt(
                    principal=aws(ALICE),
                    condition={
                        "StringEquals": {
                            "kms:ViaService": ["s3.us-east-1.amazonaws.com", DDB],
                            "kms:CallerAccount": "000000000000",
                        }
                    },
                )
            ),
            context=VIA_DDB,
        ),
        "implicit_deny",
        NO_RES,
        [],
    ),
    (
        "Statement given as a single object",
        scenario(
            identity=[{"Version": "2012-10-17", "Statement": stmt(action="kms:Decrypt")}],
            resource_policy=doc(ROOT_DELEGATION),
        ),
        "allow",
        "identity[0] statement 0",
        None,
    ),
]


@pytest.mark.parametrize(
    ("case", "effect", "reason", "refs"),
    [pytest.param(c[1], c[2], c[3], c[4], id=c[0]) for c in CASES],
)
def test_case(case: dict, effect: str, reason: str, refs: list | None) -> None:
    d = decide(case)
    assert d.effect == effect, d
    if effect == "allow":
        assert reason in d.reason, d.reason
        assert d.allowed
    else:
        assert d.reason == reason.format(a=case["action"]), d.reason
        assert not d.allowed
    if refs is not None:
        assert [(s.policy, s.index) for s in d.statements] == refs
