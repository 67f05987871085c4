"""Each resource rule: a compliant baseline, then one property changed per violation it knows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmsguard.access import decide
from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN, AwsType
from policies.rules import (
    dynamodb_table_deletion_protection as deletion_protection,
)
from policies.rules import (
    dynamodb_table_point_in_time_recovery as pitr,
)
from policies.rules import (
    iam_policy_no_kms_decrypt_on_all_keys as iam_decrypt,
)
from policies.rules import (
    kms_key_deletion_window as deletion_window,
)
from policies.rules import (
    kms_key_policy_least_privilege as least_privilege,
)
from policies.rules import (
    kms_key_policy_lockout_safe as lockout,
)
from policies.rules import (
    kms_key_policy_no_public_principal as public,
)
from policies.rules import (
    kms_key_policy_valid as valid,
)
from policies.rules import (
    kms_key_rotation_enabled as rotation,
)
from policies.values import UNKNOWN_SENTINELS
from tests.access.docs import row
from tests.policies.helpers import (
    ACCOUNT,
    ADMIN,
    KEY_ARN,
    PROVIDER_PROPS,
    USER,
    good_key_policy,
    key_props,
    resource_args,
    run_rule,
)

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
assert UNKNOWN in UNKNOWN_SENTINELS

KEY_RULES = [rotation, deletion_window, valid, public, least_privilege, lockout]


def with_statement(extra: dict[str, Any]) -> str:
    doc = good_key_policy()
    doc["Statement"].append(extra)
    return json.dumps(doc)


@pytest.mark.parametrize("module", KEY_RULES, ids=lambda m: m.META.name)
def test_compliant_key_passes(module):
    r = run_rule(module, resource_args(AwsType.KMS_KEY, key_props()))
    assert r.messages == [] and r.deferred == []


@pytest.mark.parametrize("module", KEY_RULES, ids=lambda m: m.META.name)
def test_key_policy_resource_form_is_understood(module):
    props = {"keyId": "k", "policy": key_props()["policy"]}
    assert run_rule(module, resource_args(AwsType.KMS_KEY_POLICY, props)).messages == []


def test_key_policy_resource_form_violation():
    props = {
        "keyId": "k",
        "policy": with_statement(
            {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}
        ),
    }
    r = run_rule(public, resource_args(AwsType.KMS_KEY_POLICY, props))
    assert len(r.messages) == 1 and "999999999999:root may kms:Decrypt" in r.texts[0]


# --- kms-key-rotation-enabled ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "config", "expected"),
    [
        ({"enableKeyRotation": False}, None, "automatic key rotation is not enabled"),
        ({"enableKeyRotation": None}, None, "automatic key rotation is not enabled"),
        ({"rotationPeriodInDays": 730}, None, "above the maximum of 365"),
        ({"rotationPeriodInDays": 200}, {"maxRotationPeriodDays": 180}, "above the maximum of 180"),
        (
            {"rotationPeriodInDays": None},
            {"maxRotationPeriodDays": 180},
            "rotation period is 365 days",
        ),
        ({"rotationPeriodInDays": 30}, None, "below AWS's 90 days"),
    ],
)
def test_rotation_violations(props, config, expected):
    r = run_rule(rotation, resource_args(AwsType.KMS_KEY, key_props(**props), config))
    assert len(r.messages) == 1 and expected in r.texts[0]


def test_rotation_not_required_for_asymmetric_keys():
    props = key_props(
        enableKeyRotation=False, customerMasterKeySpec="RSA_2048", keyUsage="SIGN_VERIFY"
    )
    assert run_rule(rotation, resource_args(AwsType.KMS_KEY, props)).messages == []


def test_rotation_remediation_turns_rotation_on_within_maximum():
    fixed = rotation.remediate(
        resource_args(AwsType.KMS_KEY, key_props(enableKeyRotation=False, rotationPeriodInDays=900))
    )
    assert (
        fixed is not None
        and fixed["enableKeyRotation"] is True
        and fixed["rotationPeriodInDays"] == 365
    )
    assert rotation.remediate(resource_args(AwsType.KMS_KEY, key_props())) is None


def test_rotation_unknown_is_deferred_not_passed():
    r = run_rule(rotation, resource_args(AwsType.KMS_KEY, key_props(enableKeyRotation=UNKNOWN)))
    assert r.messages == [] and "enableKeyRotation is unknown" in r.deferred[0]


# --- kms-key-deletion-window -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "config", "expected"),
    [
        (7, None, "7 days, below the minimum of 30"),
        (20, {"minDeletionWindowDays": 25}, "below the minimum of 25"),
        ("x", None, "not a number"),
    ],
)
def test_deletion_window_violations(window, config, expected):
    r = run_rule(
        deletion_window,
        resource_args(AwsType.KMS_KEY, key_props(deletionWindowInDays=window), config),
    )
    assert len(r.messages) == 1 and expected in r.texts[0]


def test_deletion_window_default_is_aws_default():
    assert (
        run_rule(
            deletion_window, resource_args(AwsType.KMS_KEY, key_props(deletionWindowInDays=None))
        ).messages
        == []
    )


# --- kms-key-policy-valid --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "kms:Decrypt"}],
                }
            ),
            "malformed key policy",
        ),
        (
            with_statement(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": USER},
                    "Action": "kms:Decrpyt",
                    "Resource": "*",
                }
            ),
            "kms:Decrpyt",
        ),
        (
            with_statement(
                {
                    "Effect": "Allow",
                    "NotPrincipal": {"AWS": USER},
                    "Action": "kms:Decrypt",
                    "Resource": "*",
                }
            ),
            "NotPrincipal",
        ),
    ],
)
def test_policy_valid_violations(policy, expected):
    r = run_rule(valid, resource_args(AwsType.KMS_KEY, key_props(policy=policy)))
    assert r.messages and any(expected in t for t in r.texts), r.texts


def test_policy_valid_names_the_closest_real_action_of_a_typo():
    policy = with_statement(
        {"Effect": "Allow", "Principal": {"AWS": USER}, "Action": ["kms:Decrpt"], "Resource": "*"}
    )
    r = run_rule(valid, resource_args(AwsType.KMS_KEY, key_props(policy=policy)))
    [text] = r.texts
    assert "Statement[4].Action[0]: 'kms:Decrpt' matches no action in the IAM catalog" in text
    assert "(closest: kms:Decrypt" in text


def test_iam_policy_naming_an_unknown_action_is_an_advisory_naming_it():
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["kms:Decrpt", "s3:GetObject"], "Resource": KEY_ARN},
            {"Effect": "Deny", "Action": "kms:Frobnicate", "Resource": "*"},
        ],
    }
    r = run_rule(iam_decrypt, resource_args(AwsType.IAM_POLICY, {"policy": json.dumps(doc)}))
    assert r.messages == [] and r.deferred == []
    assert [a.split(" matches")[0] for a in r.advice] == [
        "Policy 'r': Statement[0].Action[0]: 'kms:Decrpt'",
        "Policy 'r': Statement[1].Action: 'kms:Frobnicate'",
    ]
    assert "(closest: kms:Decrypt" in r.advice[0]


def test_policy_unknown_is_deferred():
    r = run_rule(valid, resource_args(AwsType.KMS_KEY, key_props(policy=UNKNOWN)))
    assert r.messages == [] and "key policy is unknown" in r.deferred[0]


# --- kms-key-policy-least-privilege ----------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "config", "expected"),
    [
        (
            {"Effect": "Allow", "Principal": {"AWS": ADMIN}, "Action": "kms:*", "Resource": "*"},
            None,
            "grants kms:*",
        ),
        (
            {"Effect": "Allow", "Principal": {"AWS": ADMIN}, "Action": "*", "Resource": "*"},
            None,
            "grants *",
        ),
        (
            {"Effect": "Allow", "Principal": {"AWS": ADMIN}, "Action": "KMS:*", "Resource": "*"},
            None,
            "grants KMS:*",
        ),
        (
            {
                "Effect": "Allow",
                "Principal": {"AWS": USER},
                "NotAction": "kms:ScheduleKeyDeletion",
                "Resource": "*",
            },
            None,
            "NotAction",
        ),
        (
            {
                "Effect": "Allow",
                "Principal": {"AWS": ADMIN},
                "Action": ["kms:PutKeyPolicy", "kms:*crypt"],
                "Resource": "*",
            },
            None,
            "both key administration",
        ),
        (
            {
                "Effect": "Allow",
                "Principal": {"AWS": ADMIN},
                "Action": ["kms:ScheduleKeyDeletion", "kms:decrypt"],
                "Resource": "*",
            },
            None,
            "cryptographic use (kms:Decrypt)",
        ),
        (
            {
                "Effect": "Allow",
                "Principal": {"AWS": USER},
                "Action": "kms:CreateGrant",
                "Resource": "*",
            },
            None,
            "without kms:GrantIsForAWSResource",
        ),
        (
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:user/other"},
                "Action": "kms:Decrypt",
                "Resource": "*",
            },
            {"allowedKeyUsers": [USER]},
            "outside allowedKeyUsers",
        ),
    ],
)
def test_least_privilege_violations(statement, config, expected):
    r = run_rule(
        least_privilege,
        resource_args(AwsType.KMS_KEY, key_props(policy=with_statement(statement)), config),
    )
    assert any(expected in t for t in r.texts), r.texts


def test_admin_crypto_allowed_by_config():
    st = {
        "Effect": "Allow",
        "Principal": {"AWS": ADMIN},
        "Action": ["kms:PutKeyPolicy", "kms:Decrypt"],
        "Resource": "*",
    }
    r = run_rule(
        least_privilege,
        resource_args(
            AwsType.KMS_KEY,
            key_props(policy=with_statement(st)),
            {"adminCryptoActionsAllowed": True},
        ),
    )
    assert r.messages == []


def test_root_delegation_is_not_flagged_and_allowed_users_pass():
    r = run_rule(
        least_privilege, resource_args(AwsType.KMS_KEY, key_props(), {"allowedKeyUsers": [USER]})
    )
    assert r.messages == []


# --- kms-key-policy-lockout-safe -------------------------------------------------------------


def test_lockout_bypass_flag():
    r = run_rule(
        lockout, resource_args(AwsType.KMS_KEY, key_props(bypassPolicyLockoutSafetyCheck=True))
    )
    assert r.texts == ["Key 'r': bypassPolicyLockoutSafetyCheck is true"]


def test_lockout_nobody_keeps_put_key_policy():
    doc = good_key_policy(enable_root_delegation=False)
    for st in doc["Statement"]:
        if st.get("Sid") == "AllowKeyAdministration":
            st["Action"] = [a for a in st["Action"] if a != "kms:Put*"]
    r = run_rule(lockout, resource_args(AwsType.KMS_KEY, key_props(policy=json.dumps(doc))))
    assert r.texts == [
        "Key 'r': neither the account root nor any principal the policy names may call "
        "kms:PutKeyPolicy; the key policy could never be changed again"
    ]


def test_lockout_blanket_deny():
    policy = with_statement(
        {"Effect": "Deny", "Principal": "*", "Action": "kms:Put*", "Resource": "*"}
    )
    r = run_rule(lockout, resource_args(AwsType.KMS_KEY, key_props(policy=policy)))
    assert r.texts == [
        "Key 'r': statement 4 denies kms:PutKeyPolicy to the account root and every principal "
        "the policy names; the key policy could never be changed again"
    ]


def test_lockout_admin_without_root_is_enough():
    policy = json.dumps(good_key_policy(enable_root_delegation=False))
    assert (
        run_rule(lockout, resource_args(AwsType.KMS_KEY, key_props(policy=policy))).messages == []
    )


# --- iam-policy-no-kms-decrypt-on-all-keys ---------------------------------------------------


def identity(statement: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:Decr*", "Resource": "*"},
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Allow", "Action": "KMS:DECRYPT", "Resource": "arn:aws:kms:*:*:key/*"},
        {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:ReEncrypt*", "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:Decrypt", "NotResource": "arn:aws:s3:::bucket/*"},
    ],
)
@pytest.mark.parametrize(
    "rtype",
    [
        AwsType.IAM_POLICY,
        AwsType.IAM_USER_POLICY,
        AwsType.IAM_ROLE_POLICY,
        AwsType.IAM_GROUP_POLICY,
    ],
)
def test_iam_decrypt_on_all_keys(statement, rtype):
    r = run_rule(iam_decrypt, resource_args(rtype, {"policy": identity(statement)}))
    assert len(r.messages) == 1 and "on all KMS keys" in r.texts[0]


@pytest.mark.parametrize(
    "statement",
    [
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": "arn:aws:kms:us-east-1:123456789012:key/1111",
        },
        {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"},
        {"Effect": "Allow", "NotAction": "kms:*", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}},
        },
        {"Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*"},
    ],
)
def test_iam_decrypt_compliant(statement):
    assert (
        run_rule(
            iam_decrypt, resource_args(AwsType.IAM_POLICY, {"policy": identity(statement)})
        ).messages
        == []
    )


def test_iam_role_inline_policy_and_managed_arns():
    props = {
        "inlinePolicies": [
            {
                "name": "p",
                "policy": identity({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}),
            }
        ],
        "managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"],
    }
    r = run_rule(iam_decrypt, resource_args(AwsType.IAM_ROLE, props))
    assert len(r.messages) == 2


@pytest.mark.parametrize(
    ("arn", "count"),
    [
        ("arn:aws:iam::aws:policy/AdministratorAccess", 1),
        ("arn:aws:iam::aws:policy/PowerUserAccess", 1),
        (DYNAMODB_FULL_ACCESS_POLICY_ARN, 0),
    ],
)
def test_iam_managed_policy_attachment(arn, count):
    r = run_rule(
        iam_decrypt,
        resource_args(AwsType.IAM_USER_POLICY_ATTACHMENT, {"user": "u", "policyArn": arn}),
    )
    assert len(r.messages) == count


def test_iam_unknown_document_is_deferred():
    r = run_rule(iam_decrypt, resource_args(AwsType.IAM_POLICY, {"policy": UNKNOWN}))
    assert r.messages == [] and "unknown during preview" in r.deferred[0]


def test_known_list_matches_the_managed_policy_data():
    from policies.managed import generate_known_list, known_decrypt_on_all_keys

    assert set(generate_known_list()) == set(known_decrypt_on_all_keys())
    assert "AdministratorAccess" in known_decrypt_on_all_keys()


# --- dynamodb advisories ---------------------------------------------------------------------


def test_pitr():
    ok = run_rule(
        pitr, resource_args(AwsType.DYNAMODB_TABLE, {"pointInTimeRecovery": {"enabled": True}})
    )
    bad = run_rule(
        pitr, resource_args(AwsType.DYNAMODB_TABLE, {"pointInTimeRecovery": {"enabled": False}})
    )
    missing = run_rule(pitr, resource_args(AwsType.DYNAMODB_TABLE, {}))
    assert ok.messages == [] and bad.texts == missing.texts == [
        "Table 'r': point-in-time recovery is not enabled"
    ]


def test_deletion_protection():
    ok = run_rule(
        deletion_protection,
        resource_args(AwsType.DYNAMODB_TABLE, {"deletionProtectionEnabled": True}),
    )
    bad = run_rule(
        deletion_protection,
        resource_args(AwsType.DYNAMODB_TABLE, {"deletionProtectionEnabled": False}),
    )
    assert ok.messages == [] and bad.texts == ["Table 'r': deletion protection is not enabled"]


# --- adversarial cases (one property changed from the compliant baseline) --------------------


def _least(statement: dict[str, Any], **props: Any) -> list[str]:
    args = resource_args(AwsType.KMS_KEY, key_props(policy=with_statement(statement), **props))
    return run_rule(least_privilege, args).texts


def test_least_privilege_other_accounts_root_is_not_delegation():
    st = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    assert any("grants kms:* to arn:aws:iam::999999999999:root" in t for t in _least(st))


def test_least_privilege_own_root_by_key_arn_is_delegation():
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1"
    args = resource_args(AwsType.KMS_KEY, key_props(policy=json.dumps(doc), arn=arn))
    assert run_rule(least_privilege, args).messages == []


@pytest.mark.parametrize("action", ["kms:*?", "Kms:**", "*:*"])
def test_least_privilege_any_pattern_covering_every_kms_action(action):
    st = {"Effect": "Allow", "Principal": {"AWS": USER}, "Action": action, "Resource": "*"}
    assert any(f"grants {action}" in t for t in _least(st))


def test_least_privilege_kms_de_wildcard_to_user_mixes_admin_and_crypto():
    st = {"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "kms:De*", "Resource": "*"}
    assert any("both key administration" in t for t in _least(st))


def test_least_privilege_usage_only_wildcard_to_user_passes():
    # kms:*crypt* covers Encrypt, Decrypt and ReEncrypt*: the usage set, nothing more.
    st = {"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "kms:*crypt*", "Resource": "*"}
    assert _least(st) == []


@pytest.mark.parametrize(
    "condition",
    [
        {"Null": {"kms:GrantIsForAWSResource": "true"}},
        {"StringNotEquals": {"kms:GrantIsForAWSResource": "true"}},
        {"Bool": {"kms:GrantIsForAWSResource": ["true", "false"]}},
    ],
)
def test_least_privilege_create_grant_condition_that_does_not_restrict(condition):
    st = {
        "Effect": "Allow",
        "Principal": {"AWS": USER},
        "Action": "kms:CreateGrant",
        "Resource": "*",
        "Condition": condition,
    }
    assert any("without kms:GrantIsForAWSResource" in t for t in _least(st))


def test_lockout_only_keeper_denied_by_name():
    doc = good_key_policy(enable_root_delegation=False)
    doc["Statement"].append(
        {
            "Effect": "Deny",
            "Principal": {"AWS": ADMIN},
            "Action": "kms:PutKeyPolicy",
            "Resource": "*",
        }
    )
    r = run_rule(lockout, resource_args(AwsType.KMS_KEY, key_props(policy=json.dumps(doc))))
    assert len(r.messages) == 1 and "nor any principal the policy names may call" in r.texts[0]


def test_lockout_service_principal_keeps_nothing():
    doc = good_key_policy(enable_root_delegation=False)
    for st in doc["Statement"]:
        if st.get("Sid") == "AllowKeyAdministration":
            st["Action"] = [a for a in st["Action"] if a != "kms:Put*"]
    doc["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"Service": "dynamodb.amazonaws.com"},
            "Action": "kms:*",
            "Resource": "*",
        }
    )
    r = run_rule(lockout, resource_args(AwsType.KMS_KEY, key_props(policy=json.dumps(doc))))
    assert len(r.messages) == 1


@pytest.mark.parametrize(
    ("spared", "locked"),
    [
        # A role acts through its sessions: NotPrincipal naming the role alone spares none of
        # them (AWS's NotPrincipal rule), so the administrator is denied with everyone else.
        ([ADMIN], True),
        (
            [
                ADMIN,
                f"arn:aws:sts::{ACCOUNT}:assumed-role/key-admin/s",
                f"arn:aws:iam::{ACCOUNT}:root",
            ],
            False,
        ),
    ],
)
def test_lockout_deny_everyone_but_admin_follows_aws_notprincipal_rule(spared, locked):
    row("notprincipal-role-session")
    doc = good_key_policy(enable_root_delegation=False)
    doc["Statement"].append(
        {
            "Effect": "Deny",
            "NotPrincipal": {"AWS": spared},
            "Action": "kms:PutKeyPolicy",
            "Resource": "*",
        }
    )
    r = run_rule(lockout, resource_args(AwsType.KMS_KEY, key_props(policy=json.dumps(doc))))
    assert bool(r.messages) == locked, r.texts


PUBLIC_KMS_STAR = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}
    ],
}


@pytest.mark.parametrize("provider_props", [PROVIDER_PROPS, None], ids=["pinned", "unknown"])
def test_lockout_asks_the_evaluator_not_statement_shapes(provider_props):
    # Public, and kms-key-policy-no-public-principal's concern: but nobody is locked out, as
    # `decide` for the account root says.
    args = resource_args(
        AwsType.KMS_KEY,
        key_props(policy=json.dumps(PUBLIC_KMS_STAR)),
        provider_props=provider_props,
    )
    assert run_rule(lockout, args).messages == []
    decision = decide(
        {
            "principal": f"arn:aws:iam::{ACCOUNT}:root",
            "action": "kms:PutKeyPolicy",
            "resource": KEY_ARN,
            "resource_policy": PUBLIC_KMS_STAR,
        }
    )
    assert decision.effect == "allow"


def test_lockout_asks_about_a_bounded_number_of_principals_and_defers_the_rest():
    # Each question reads the whole policy; thousands of named principals must not make the
    # rule quadratic. The ones not asked about are left to verification, never passed.
    names = [f"arn:aws:iam::{ACCOUNT}:user/u{i}" for i in range(300)]
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": names}, "Action": "kms:*", "Resource": "*"},
            {"Effect": "Deny", "Principal": {"AWS": names}, "Action": "kms:Put*", "Resource": "*"},
        ],
    }
    r = run_rule(lockout, resource_args(AwsType.KMS_KEY, key_props(policy=json.dumps(doc))))
    assert r.messages == []
    assert r.deferred == [
        "Key 'r': the account root and 99 of the 300 principals the policy names may not call "
        "kms:PutKeyPolicy; the others are left to verification"
    ]


def test_lockout_conditional_administration_still_keeps_the_key_changeable():
    doc = good_key_policy(enable_root_delegation=False)
    doc["Statement"][0]["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    r = run_rule(lockout, resource_args(AwsType.KMS_KEY, key_props(policy=json.dumps(doc))))
    assert r.messages == []
    # ... unless a Deny takes exactly that request away.
    doc["Statement"].append(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    )
    r = run_rule(lockout, resource_args(AwsType.KMS_KEY, key_props(policy=json.dumps(doc))))
    assert len(r.messages) == 1 and "could never be changed again" in r.texts[0]


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:ResourceAccount": ACCOUNT}},
        {"ForAllValues:StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}},
        {"StringLike": {"kms:ViaService": "*"}},
        {"StringEqualsIfExists": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}},
    ],
)
def test_iam_decrypt_condition_that_does_not_narrow(condition):
    st = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Condition": condition}
    r = run_rule(iam_decrypt, resource_args(AwsType.IAM_POLICY, {"policy": identity(st)}))
    assert len(r.messages) == 1 and "on all KMS keys" in r.texts[0]


def test_iam_unknown_managed_policy_arns_are_deferred():
    r = run_rule(iam_decrypt, resource_args(AwsType.IAM_ROLE, {"managedPolicyArns": UNKNOWN}))
    assert r.messages == [] and "managedPolicyArns is unknown" in r.deferred[0]


def test_iam_managed_policy_outside_catalog_is_deferred():
    args = resource_args(
        AwsType.IAM_USER_POLICY_ATTACHMENT,
        {"user": "u", "policyArn": "arn:aws:iam::aws:policy/NoSuchManagedPolicy"},
    )
    r = run_rule(iam_decrypt, args)
    assert r.messages == [] and "not in the managed policy catalog" in r.deferred[0]


@pytest.mark.parametrize(
    ("deny", "flagged"),
    [
        ({"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}, ["kms:ReEncryptFrom"]),
        ({"Effect": "Deny", "Action": "kms:*", "Resource": "*"}, []),
        # Conditional or narrower denies leave some keys open: the Allow still counts.
        (
            {
                "Effect": "Deny",
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            ["kms:Decrypt", "kms:ReEncryptFrom"],
        ),
        (
            {"Effect": "Deny", "Action": "kms:*", "Resource": "arn:aws:kms:*:111122223333:key/*"},
            ["kms:Decrypt", "kms:ReEncryptFrom"],
        ),
    ],
)
def test_iam_decrypt_cancelled_only_by_an_unconditional_deny_on_everything(deny, flagged):
    allow = {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}
    doc = json.dumps({"Version": "2012-10-17", "Statement": [allow, deny]})
    r = run_rule(iam_decrypt, resource_args(AwsType.IAM_POLICY, {"policy": doc}))
    if not flagged:
        assert r.messages == []
    else:
        assert len(r.messages) == 1
        assert f"allows {' and '.join(flagged)} on all KMS keys" in r.texts[0]
