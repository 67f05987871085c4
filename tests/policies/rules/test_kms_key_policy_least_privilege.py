"""kms-key-policy-least-privilege: the key's account comes from its ARN or the provider only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmsguard.contract import AwsType
from kmsguard.keypolicy import KeyPolicyRoles, build_key_policy
from policies.rules import kms_key_policy_least_privilege as least_privilege
from policies.rules import kms_key_policy_least_privilege as rule
from tests.policies.helpers import (
    ACCOUNT,
    ADMIN,
    PROVIDER_PROPS,
    USER,
    good_key_policy,
    key_props,
    resource_args,
    run_rule,
)

OTHER_ROLE = "arn:aws:iam::111122223333:role/app"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"


def _policy_with_users(users: list[str]) -> str:
    roles = KeyPolicyRoles(
        account_id=ACCOUNT, region="us-east-1", administrators=[ADMIN], users=users
    )
    return json.dumps(build_key_policy(roles))


def _run(policy: str, provider_props: dict[str, Any] | None, **props: Any) -> Any:
    args = resource_args(
        AwsType.KMS_KEY, key_props(policy=policy, **props), provider_props=provider_props
    )
    return run_rule(rule, args)


def test_baseline_key_users_in_the_same_account_pass() -> None:
    r = _run(_policy_with_users([f"arn:aws:iam::{ACCOUNT}:user/app"]), PROVIDER_PROPS)
    assert r.messages == [] and r.deferred == []


def test_a_key_user_in_another_account_does_not_move_the_key_there() -> None:
    # The reported case: most named principals in 111122223333 made the own root look foreign.
    r = _run(_policy_with_users([OTHER_ROLE]), PROVIDER_PROPS)
    assert r.messages == [] and r.deferred == []


def test_unknown_key_account_defers_the_root_statement_instead_of_guessing() -> None:
    r = _run(_policy_with_users([OTHER_ROLE]), provider_props=None)
    assert r.messages == [] and r.deferred_codes == ["root-grant-account-unknown"]
    assert r.deferred_found[0].witness["principals"] == [ROOT]
    assert ROOT in r.deferred[0] and "aws:allowedAccountIds" in r.deferred[0]


def test_unknown_key_account_still_judges_the_other_statements() -> None:
    doc = json.loads(_policy_with_users([OTHER_ROLE]))
    doc["Statement"].append(
        {"Effect": "Allow", "Principal": {"AWS": OTHER_ROLE}, "Action": "kms:*", "Resource": "*"}
    )
    r = _run(json.dumps(doc), provider_props=None)
    [f] = r.found
    assert (f.code, f.witness["action"], f.witness["principals"]) == (
        "wildcard-action",
        "kms:*",
        [OTHER_ROLE],
    )
    assert r.texts == [f"Key 'r': {f.witness['statement']} grants kms:* to {OTHER_ROLE}"]


def test_the_provider_deploying_elsewhere_makes_the_root_a_cross_account_grant() -> None:
    r = _run(_policy_with_users([]), {"allowedAccountIds": ["999999999999"]})
    assert any(f"grants kms:* to {ROOT}" in t for t in r.texts)


def test_the_key_arn_wins_over_the_provider() -> None:
    arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1"
    r = _run(_policy_with_users([OTHER_ROLE]), {"allowedAccountIds": ["999999999999"]}, arn=arn)
    assert r.messages == [] and r.deferred == []


@pytest.mark.parametrize(
    "provider_props",
    [
        {"allowedAccountIds": json.dumps([ACCOUNT])},  # as the engine passes stack config
        {"allowedAccountIds": ACCOUNT},
        {"assumeRole": {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/deployer"}},
        {"assumeRole": json.dumps({"roleArn": f"arn:aws:iam::{ACCOUNT}:role/deployer"})},
        {
            "assumeRoles": [
                {"roleArn": "arn:aws:iam::999999999999:role/hop"},
                {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/deployer"},
            ]
        },
    ],
)
def test_provider_forms_naming_the_deploying_account(provider_props: dict[str, Any]) -> None:
    r = _run(_policy_with_users([OTHER_ROLE]), provider_props)
    assert r.messages == [] and r.deferred == []


@pytest.mark.parametrize(
    "provider_props",
    [
        {"region": "us-east-1"},
        {"allowedAccountIds": [ACCOUNT, "999999999999"]},  # either could be the key's
        {"allowedAccountIds": "not-json["},
        {"assumeRole": {"roleArn": "arn:aws:iam::*:role/x"}},
    ],
)
def test_provider_forms_that_do_not_name_one_account_defer(provider_props: dict[str, Any]) -> None:
    r = _run(_policy_with_users([OTHER_ROLE]), provider_props)
    assert r.messages == [] and len(r.deferred) == 1


def with_statement(extra: dict[str, Any]) -> str:
    doc = good_key_policy()
    doc["Statement"].append(extra)
    return json.dumps(doc)


def _least(statement: dict[str, Any], **props: Any) -> list[str]:
    args = resource_args(AwsType.KMS_KEY, key_props(policy=with_statement(statement), **props))
    return run_rule(least_privilege, args).texts


def test_baseline_compliant_key_passes():
    r = run_rule(least_privilege, resource_args(AwsType.KMS_KEY, key_props()))
    assert r.messages == [] and r.deferred == []


def test_key_policy_resource_form_is_understood():
    props = {"keyId": "k", "policy": key_props()["policy"]}
    assert run_rule(least_privilege, resource_args(AwsType.KMS_KEY_POLICY, props)).messages == []


@pytest.mark.parametrize(
    ("statement", "config", "expected", "code"),
    [
        (
            {"Effect": "Allow", "Principal": {"AWS": ADMIN}, "Action": "kms:*", "Resource": "*"},
            None,
            "grants kms:*",
            "wildcard-action",
        ),
        (
            {"Effect": "Allow", "Principal": {"AWS": ADMIN}, "Action": "*", "Resource": "*"},
            None,
            "grants *",
            "wildcard-action",
        ),
        (
            {"Effect": "Allow", "Principal": {"AWS": ADMIN}, "Action": "KMS:*", "Resource": "*"},
            None,
            "grants KMS:*",
            "wildcard-action",
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
            "allow-not-action",
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
            "admin-with-crypto",
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
            "admin-with-crypto",
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
            "create-grant-unconditioned",
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
            "decrypt-outside-allowed-users",
        ),
    ],
)
def test_least_privilege_violations(statement, config, expected, code):
    r = run_rule(
        least_privilege,
        resource_args(AwsType.KMS_KEY, key_props(policy=with_statement(statement)), config),
    )
    [f] = [f for f in r.found if f.code == code]
    assert f.rule == "kms-key-policy-least-privilege" and f.resource == "Key 'r'"
    assert expected in f.detail and f.detail.startswith(f"{f.witness['statement']} ")
    assert f.witness["principals"] == [statement["Principal"]["AWS"]]
    assert r.texts == [f"Key 'r': {g.detail}" for g in r.found]


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


def test_an_unknown_policy_is_deferred() -> None:
    props = key_props(policy="04da6b54-80e4-46f7-96ec-b56ff0331ba9")
    r = run_rule(least_privilege, resource_args(AwsType.KMS_KEY, props))
    assert r.messages == [] and r.deferred_codes == ["key-policy-unknown"]
    assert r.deferred == ["Key 'r': the key policy is unknown during preview"]
