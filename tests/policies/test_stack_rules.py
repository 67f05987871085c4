"""Stack rules: table->key links (by value and by property dependency), key usage, real access."""

from __future__ import annotations

import json

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN, AwsType
from policies.rules import dynamodb_table_customer_managed_key as cmk
from policies.rules import kms_key_symmetric_for_tables as symmetric
from policies.rules import stack_key_access_matches_declared as access
from tests.policies.helpers import ACCOUNT, KEY_ARN, USER, Res, key_props, run_rule, stack_args

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def key(**over):
    return Res(AwsType.KMS_KEY, "key", {**key_props(**over), "arn": over.get("arn", KEY_ARN)})


def table(sse, deps=None):
    return Res(
        AwsType.DYNAMODB_TABLE,
        "table",
        {"serverSideEncryption": sse},
        **({"serverSideEncryption": deps} if deps else {}),
    )


def test_cmk_baseline_by_value_and_by_dependency():
    k = key()
    assert (
        run_rule(cmk, stack_args([k, table({"enabled": True, "kmsKeyArn": KEY_ARN})])).messages
        == []
    )
    k2 = key(arn=UNKNOWN)
    r = run_rule(cmk, stack_args([k2, table({"enabled": True, "kmsKeyArn": UNKNOWN}, [k2.urn])]))
    assert r.messages == [] and r.deferred == []


def test_cmk_alias_in_stack_counts():
    k = key()
    alias = Res(
        AwsType.KMS_ALIAS,
        "alias",
        {"name": "alias/orders", "targetKeyId": "k-1"},
        targetKeyId=[k.urn],
    )
    assert (
        run_rule(
            cmk, stack_args([k, alias, table({"enabled": True, "kmsKeyArn": "alias/orders"})])
        ).messages
        == []
    )


def test_cmk_violations():
    cases = {
        "not enabled": {"enabled": False},
        "no kmsKeyArn": {"enabled": True},
        "is an AWS managed key": {"enabled": True, "kmsKeyArn": "alias/aws/dynamodb"},
        "is an AWS managed key ": {
            "enabled": True,
            "kmsKeyArn": f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/aws/dynamodb",
        },
        "belongs to account 999999999999": {
            "enabled": True,
            "kmsKeyArn": "arn:aws:kms:us-east-1:999999999999:key/abc",
        },
    }
    for expected, sse in cases.items():
        r = run_rule(cmk, stack_args([key(), table(sse)]))
        assert len(r.messages) == 1 and expected.strip() in r.messages[0][0], (expected, r.texts)
    r = run_rule(cmk, stack_args([table(None)]))
    assert "not enabled" in r.texts[0]


def test_cmk_cross_account_allow_list():
    other = "arn:aws:kms:us-east-1:999999999999:key/abc"
    r = run_rule(
        cmk,
        stack_args(
            [key(), table({"enabled": True, "kmsKeyArn": other})],
            {"allowedCrossAccountKeyArns": [other]},
        ),
    )
    assert r.messages == []


def test_cmk_unknown_without_dependency_is_deferred():
    r = run_rule(cmk, stack_args([table({"enabled": True, "kmsKeyArn": UNKNOWN})]))
    assert r.messages == [] and "depends on no aws:kms/key:Key" in r.deferred[0]


def test_symmetric_rule():
    for over, expected in [
        ({"customerMasterKeySpec": "RSA_2048"}, "customerMasterKeySpec is 'RSA_2048'"),
        ({"keyUsage": "SIGN_VERIFY"}, "keyUsage is 'SIGN_VERIFY'"),
        ({"isEnabled": False}, "the key is disabled"),
    ]:
        k = key(**over)
        r = run_rule(symmetric, stack_args([k, table({"enabled": True, "kmsKeyArn": KEY_ARN})]))
        assert len(r.messages) == 1 and expected in r.texts[0]
    assert (
        run_rule(
            symmetric, stack_args([key(), table({"enabled": True, "kmsKeyArn": KEY_ARN})])
        ).messages
        == []
    )


def user(name="tester", arn=None):
    return Res(AwsType.IAM_USER, name, {"name": name, **({"arn": arn} if arn else {})})


def user_policy(u, statement):
    doc = {"Version": "2012-10-17", "Statement": [statement]}
    return Res(
        AwsType.IAM_USER_POLICY,
        f"{u.name}-policy",
        {"user": u.name, "policy": json.dumps(doc)},
        user=[u.urn],
    )


def test_access_baseline_managed_policy_gives_no_decrypt():
    u = user()
    att = Res(
        AwsType.IAM_USER_POLICY_ATTACHMENT,
        "att",
        {"user": "tester", "policyArn": DYNAMODB_FULL_ACCESS_POLICY_ARN},
        user=[u.urn],
    )
    r = run_rule(access, stack_args([key(), u, att]))
    assert r.messages == [] and r.deferred == []


def test_access_declared_user_passes():
    u = user("app", USER)
    st = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}
    assert run_rule(access, stack_args([key(), u, user_policy(u, st)])).messages == []


def test_access_through_root_delegation_is_reported_with_path():
    u = user()  # ARN derived from name + account at preview
    st = {"Sid": "Wide", "Effect": "Allow", "Action": "kms:Decr*", "Resource": "*"}
    r = run_rule(access, stack_args([key(arn=UNKNOWN), u, user_policy(u, st)]))
    assert len(r.messages) == 1
    text = r.texts[0]
    assert (
        f"arn:aws:iam::{ACCOUNT}:user/tester can kms:Decrypt but is not a declared key user" in text
    )
    assert "root delegation" in text and "identity policy UserPolicy tester-policy" in text


def test_access_without_root_delegation_iam_alone_grants_nothing():
    u = user()
    st = {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}
    from tests.policies.helpers import good_key_policy

    k = key(policy=json.dumps(good_key_policy(enable_root_delegation=False)))
    assert run_rule(access, stack_args([k, u, user_policy(u, st)])).messages == []


def test_access_extra_declared_users_config():
    u = user()
    st = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}
    cfg = {"extraDeclaredKeyUsers": [f"arn:aws:iam::{ACCOUNT}:user/tester"]}
    assert run_rule(access, stack_args([key(), u, user_policy(u, st)], cfg)).messages == []


def test_access_unknown_policy_is_deferred():
    u = user()
    p = Res(AwsType.IAM_USER_POLICY, "p", {"user": "tester", "policy": UNKNOWN}, user=[u.urn])
    r = run_rule(access, stack_args([key(), u, p]))
    assert r.messages == [] and "unknown" in r.deferred[0]
