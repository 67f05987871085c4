"""Fixtures: a sandbox, and a test-only deploy that provisions the stack as the program would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN, Output, account_root_arn
from kmsguard.plan import Identity, Plan, make_plan
from kmsguard.settings import parse_settings

TABLE = "kms-protected-table"
USER = "kms-test-user"


def plan_for(sb: Any, *, grant: bool, **config: Any) -> Plan:
    settings = parse_settings(
        {"tableName": TABLE, "testUserName": USER, "grantTestUserKeyAccess": grant, **config}
    )
    identity = Identity(sb.account_id, sb.region, deployer_arn=account_root_arn(sb.account_id))
    return make_plan(settings, identity)


@dataclass
class Deployed:
    """A stack provisioned with boto3, as the Pulumi program would, plus its outputs."""

    sb: Any
    plan: Plan
    outputs: dict[str, Any]

    @property
    def key_arn(self) -> str:
        return str(self.outputs[Output.KEY_ARN])

    def apply(self, *, grant: bool) -> None:
        """The second `pulumi up`: a new key policy and the matching expectations."""
        self.plan = plan_for(self.sb, grant=grant)
        self.sb.client("kms").put_key_policy(
            KeyId=self.key_arn, PolicyName="default", Policy=json.dumps(self.plan.key_policy)
        )
        self.outputs[Output.KEY_POLICY] = self.plan.key_policy
        self.outputs[Output.KEY_USER_ARNS] = list(self.plan.users)
        self.outputs[Output.ACCESS_EXPECTATIONS] = [dict(e) for e in self.plan.expectations]

    def leftovers(self) -> dict[str, list[Any]]:
        """Access keys on the test user, verifier tags, and items in the table (as the admin)."""
        iam = self.sb.client("iam")
        keys = iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]
        tags = iam.list_user_tags(UserName=USER)["Tags"]
        items = self.sb.client("dynamodb").scan(TableName=TABLE)["Items"]
        return {"keys": keys, "tags": tags, "items": items}


def deploy(
    sb: Any, *, grant: bool = False, index: str | None = None, stream: bool = False
) -> Deployed:
    """`index`: a global secondary index of that name (on attribute `v`); `stream`: a stream."""
    plan = plan_for(sb, grant=grant)
    iam, kms, ddb = sb.client("iam"), sb.client("kms"), sb.client("dynamodb")
    user = iam.create_user(UserName=USER)["User"]
    iam.attach_user_policy(UserName=USER, PolicyArn=DYNAMODB_FULL_ACCESS_POLICY_ARN)
    key = kms.create_key(
        Policy=json.dumps(plan.key_policy),
        KeySpec="SYMMETRIC_DEFAULT",
        KeyUsage="ENCRYPT_DECRYPT",
        Description="kmsguard test key",
    )["KeyMetadata"]
    kms.enable_key_rotation(
        KeyId=key["KeyId"], RotationPeriodInDays=plan.settings.key_rotation_period_days
    )
    alias = f"alias/{TABLE}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    extra: dict[str, Any] = {}
    attributes = [{"AttributeName": "id", "AttributeType": "S"}]
    if index:
        attributes.append({"AttributeName": "v", "AttributeType": "S"})
        extra["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index,
                "KeySchema": [{"AttributeName": "v", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ]
    if stream:
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    table = ddb.create_table(
        TableName=TABLE,
        AttributeDefinitions=attributes,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]},
        **extra,
    )["TableDescription"]
    outputs = {
        Output.TABLE_NAME: TABLE,
        Output.TABLE_ARN: table["TableArn"],
        Output.KEY_ID: key["KeyId"],
        Output.KEY_ARN: key["Arn"],
        Output.KEY_ALIAS: alias,
        Output.TEST_USER_NAME: USER,
        Output.TEST_USER_ARN: user["Arn"],
        Output.KEY_ADMINISTRATOR_ARNS: list(plan.administrators),
        Output.KEY_USER_ARNS: list(plan.users),
        Output.ACCESS_EXPECTATIONS: [dict(e) for e in plan.expectations],
        Output.KEY_POLICY: plan.key_policy,
        Output.KEY_ROTATION_PERIOD_DAYS: plan.settings.key_rotation_period_days,
        Output.KEY_DELETION_WINDOW_DAYS: plan.settings.key_deletion_window_days,
        Output.REGION: sb.region,
        Output.ACCOUNT_ID: sb.account_id,
    }
    return Deployed(sb, plan, outputs)


@pytest.fixture
def sandbox() -> Iterator[Any]:
    from sandbox import running

    with running() as sb:
        yield sb


@pytest.fixture
def admin_env(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The admin's credentials in the environment, as the CLI's boto3 chain reads them."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in sandbox.environment().items():
        if name != "AWS_ENDPOINT_URL":
            monkeypatch.setenv(name, value)
    return sandbox


@pytest.fixture
def stack(admin_env: Any) -> Deployed:
    return deploy(admin_env)
