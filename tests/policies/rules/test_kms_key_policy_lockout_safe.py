"""kms-key-policy-lockout-safe: someone keeps kms:PutKeyPolicy (one property per case)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmsguard.access import decide
from kmsguard.contract import AwsType
from policies.rules import kms_key_policy_lockout_safe as lockout
from tests.access.docs import row
from tests.policies.helpers import (
    ACCOUNT,
    ADMIN,
    KEY_ARN,
    PROVIDER_PROPS,
    good_key_policy,
    key_props,
    resource_args,
    run_rule,
)

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def with_statement(extra: dict[str, Any]) -> str:
    doc = good_key_policy()
    doc["Statement"].append(extra)
    return json.dumps(doc)


PUBLIC_KMS_STAR = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}
    ],
}


def test_baseline_compliant_key_passes():
    r = run_rule(lockout, resource_args(AwsType.KMS_KEY, key_props()))
    assert r.messages == [] and r.deferred == []


def test_key_policy_resource_form_is_understood():
    props = {"keyId": "k", "policy": key_props()["policy"]}
    assert run_rule(lockout, resource_args(AwsType.KMS_KEY_POLICY, props)).messages == []


def test_lockout_bypass_flag():
    r = run_rule(
        lockout, resource_args(AwsType.KMS_KEY, key_props(bypassPolicyLockoutSafetyCheck=True))
    )
    assert r.codes == ["bypass-lockout-safety-check"] and r.found[0].resource == "Key 'r'"
    assert r.texts == ["Key 'r': bypassPolicyLockoutSafetyCheck is true"]


def test_unknown_bypass_and_policy_defer():
    props = key_props(bypassPolicyLockoutSafetyCheck=UNKNOWN, policy=UNKNOWN)
    r = run_rule(lockout, resource_args(AwsType.KMS_KEY, props))
    assert r.messages == [] and r.deferred_codes == ["bypass-unknown", "key-policy-unknown"]
    assert r.deferred == [
        "Key 'r': bypassPolicyLockoutSafetyCheck is unknown during preview",
        "Key 'r': the key policy is unknown during preview",
    ]


def test_lockout_nobody_keeps_put_key_policy():
    doc = good_key_policy(enable_root_delegation=False)
    for st in doc["Statement"]:
        if st.get("Sid") == "AllowKeyAdministration":
            st["Action"] = [a for a in st["Action"] if a != "kms:Put*"]
    r = run_rule(lockout, resource_args(AwsType.KMS_KEY, key_props(policy=json.dumps(doc))))
    [f] = r.found
    assert f.code == "key-policy-lockout" and "deniedBy" not in f.witness
    assert f.witness["asked"] == [f"arn:aws:iam::{ACCOUNT}:root"]
    assert f.witness["key"].startswith(f"arn:aws:kms:us-east-1:{ACCOUNT}:key/")
    assert r.texts == [
        "Key 'r': neither the account root nor any principal the policy names may call "
        "kms:PutKeyPolicy; the key policy could never be changed again"
    ]


def test_lockout_blanket_deny():
    policy = with_statement(
        {"Effect": "Deny", "Principal": "*", "Action": "kms:Put*", "Resource": "*"}
    )
    r = run_rule(lockout, resource_args(AwsType.KMS_KEY, key_props(policy=policy)))
    [f] = r.found
    assert (f.code, f.witness["deniedBy"]) == ("key-policy-lockout", ["statement 4"])
    assert r.texts == [
        "Key 'r': statement 4 denies kms:PutKeyPolicy to the account root and every principal "
        "the policy names; the key policy could never be changed again"
    ]


def test_lockout_admin_without_root_is_enough():
    policy = json.dumps(good_key_policy(enable_root_delegation=False))
    assert (
        run_rule(lockout, resource_args(AwsType.KMS_KEY, key_props(policy=policy))).messages == []
    )


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
    assert r.messages == [] and r.deferred_codes == ["too-many-principals-to-ask"]
    assert r.deferred_found[0].witness["named"] == 300
    assert len(r.deferred_found[0].witness["asked"]) == 100
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
