"""The Pulumi program under the SDK's mocks: both phases, preview, wiring, outputs, bad input."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

import pulumi
import pytest

from kmsguard.contract import (
    DYNAMODB_FULL_ACCESS_POLICY_ARN,
    REQUIRED_OUTPUTS,
    AwsType,
    Output,
    Sid,
)
from kmsguard.keypolicy import statements_by_sid
from tests.kmsguard.conftest import ACCOUNT, DEPLOYER_ROLE, REGION, UNKNOWN, FakeAws, run_program

USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/kms-test-user"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def key_policy(run: object) -> dict:
    key = run.one(AwsType.KMS_KEY)  # type: ignore[attr-defined]
    return json.loads(key.inputs["policy"])


@pytest.mark.parametrize("granted", [False, True])
def test_key_is_a_rotating_symmetric_cmk_with_configured_windows(granted: bool) -> None:
    run = run_program(
        {
            "grantTestUserKeyAccess": granted,
            "keyRotationPeriodDays": 180,
            "keyDeletionWindowDays": 14,
        }
    )
    key = run.one(AwsType.KMS_KEY).inputs
    assert key["customerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert key["keyUsage"] == "ENCRYPT_DECRYPT"
    assert key["enableKeyRotation"] is True and key["rotationPeriodInDays"] == 180
    assert key["deletionWindowInDays"] == 14
    assert key["bypassPolicyLockoutSafetyCheck"] is False
    assert key["description"] and key["tags"] == {"project": "kmsguard"}
    assert run.one(AwsType.KMS_ALIAS).inputs["name"] == "alias/kms-protected-table"


def test_phase_denied_key_policy_leaves_the_test_user_out() -> None:
    doc = key_policy(run_program({"grantTestUserKeyAccess": "false"}))
    sids = statements_by_sid(doc)
    assert list(sids) == [Sid.ROOT, Sid.ADMINS]
    # The deployer assumed a role: the policy names the role, never the STS session.
    assert sids[Sid.ADMINS]["Principal"] == {"AWS": DEPLOYER_ROLE}
    assert USER_ARN not in json.dumps(doc)


def test_phase_granted_key_policy_names_the_test_user_as_restricted_key_user() -> None:
    sids = statements_by_sid(key_policy(run_program({"grantTestUserKeyAccess": "true"})))
    assert list(sids) == [Sid.ROOT, Sid.ADMINS, Sid.USERS, Sid.GRANTS]
    assert sids[Sid.USERS]["Principal"] == {"AWS": USER_ARN}
    assert sids[Sid.USERS]["Condition"]["StringEquals"]["kms:ViaService"] == (
        f"dynamodb.{REGION}.amazonaws.com"
    )


def test_options_change_the_policy_shape() -> None:
    sids = statements_by_sid(
        key_policy(
            run_program(
                {
                    "grantTestUserKeyAccess": "true",
                    "enableRootDelegation": "false",
                    "restrictKeyUseToDynamoDB": "false",
                    "keyAdministrators": f'["arn:aws:iam::{ACCOUNT}:user/ops"]',
                }
            )
        )
    )
    assert list(sids) == [Sid.ADMINS, Sid.USERS_UNRESTRICTED, Sid.GRANTS]
    assert sids[Sid.ADMINS]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:user/ops"}


def test_table_sse_is_wired_to_the_keys_arn() -> None:
    run = run_program({"pointInTimeRecovery": "false", "deletionProtection": "true"})
    table = run.one(AwsType.DYNAMODB_TABLE).inputs
    assert table["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": KEY_ARN}
    assert table["billingMode"] == "PAY_PER_REQUEST" and table["hashKey"] == "id"
    assert table["attributes"] == [{"name": "id", "type": "S"}]
    assert table["pointInTimeRecovery"] == {"enabled": False}
    assert table["deletionProtectionEnabled"] is True


def test_test_user_gets_dynamodb_full_access_and_no_kms_cryptographic_action() -> None:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    run = run_program({"grantTestUserKeyAccess": "true"})
    identity_policy_types = {
        AwsType.IAM_USER_POLICY,
        AwsType.IAM_POLICY,
        AwsType.IAM_POLICY_ATTACHMENT,
        AwsType.IAM_GROUP_POLICY,
    }
    assert not [r for r in run.resources if r.typ in identity_policy_types]
    [attachment] = run.of_type(AwsType.IAM_USER_POLICY_ATTACHMENT)
    assert attachment.inputs["policyArn"] == DYNAMODB_FULL_ACCESS_POLICY_ARN
    managed = json.loads(aws_managed_policies_data)["AmazonDynamoDBFullAccess"]["Document"]
    allowed = [
        a
        for st in managed["Statement"]
        if st["Effect"] == "Allow"
        for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    ]
    crypto = [
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:ReEncryptFrom",
        "kms:GenerateDataKey",
        "kms:CreateGrant",
    ]
    assert not [c for c in crypto for a in allowed if fnmatchcase(c.lower(), a.lower())]


def test_all_contract_outputs_are_exported_with_values() -> None:
    run = run_program({"grantTestUserKeyAccess": "true"})
    out = run.outputs
    assert set(REQUIRED_OUTPUTS) <= set(out)
    assert out[Output.TABLE_ARN] == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/kms-protected-table"
    assert out[Output.KEY_ARN] == KEY_ARN
    assert out[Output.KEY_ALIAS] == "alias/kms-protected-table"
    assert out[Output.TEST_USER_ARN] == USER_ARN
    assert out[Output.KEY_ADMINISTRATOR_ARNS] == [DEPLOYER_ROLE]
    assert out[Output.KEY_USER_ARNS] == [USER_ARN]
    assert out[Output.KEY_POLICY] == key_policy(run)
    assert (out[Output.REGION], out[Output.ACCOUNT_ID]) == (REGION, ACCOUNT)
    rows = {r["action"]: r["expect"] for r in out[Output.ACCESS_EXPECTATIONS]}
    assert rows["dynamodb:Scan"] == "allow" and rows["kms:Decrypt"] == "deny"


def test_preview_leaves_arns_unknown_but_the_key_policy_known() -> None:
    run = run_program({"grantTestUserKeyAccess": "true"}, preview=True)
    for name in (Output.TABLE_ARN, Output.KEY_ARN, Output.KEY_ID, Output.TEST_USER_ARN):
        assert run.outputs[name] is UNKNOWN
    # Known at preview: the policy pack can judge who may use the key before deploying.
    assert USER_ARN in json.dumps(key_policy(run))
    table = run.one(AwsType.DYNAMODB_TABLE).inputs
    assert table["serverSideEncryption"]["enabled"] is True


def test_key_depends_on_the_test_user_so_kms_accepts_the_principal() -> None:
    # Registration order follows dependencies; the user is registered before the key.
    types = [r.typ for r in run_program({"grantTestUserKeyAccess": "true"}).resources]
    assert types.index(AwsType.IAM_USER) < types.index(AwsType.KMS_KEY)


@pytest.mark.parametrize(
    "config",
    [
        {"keyDeletionWindowDays": "90"},
        {"keyUsers": '["not-an-arn"]'},
        {"grantTestUserKeyAccess": "maybe"},
        {"keyUsers": f'["{USER_ARN}"]'},
    ],
)
def test_bad_config_stops_before_any_resource_is_registered(config: dict[str, str]) -> None:
    fake = FakeAws(preview=False)
    with pytest.raises(pulumi.RunError, match="invalid configuration") as err:
        run_program(config, fake=fake)
    assert fake.resources == []
    assert "\n" in str(err.value) and "kmsguard:" in str(err.value)
