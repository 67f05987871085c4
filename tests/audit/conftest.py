"""An account seeded outside any stack (boto3 calls), and the audit run against it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kmsguard.audit.__main__ import main
from kmsguard.keypolicy import KeyPolicyRoles, key_policy_json
from sandbox import SandboxInfo, running

ADMINISTRATOR = "arn:aws:iam::aws:policy/AdministratorAccess"
DECRYPT_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}],
}


def make_table(sb: SandboxInfo, name: str, sse: dict[str, Any], **extra: Any) -> str:
    ddb = sb.client("dynamodb")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification=sse,
        **extra,
    )
    return str(ddb.describe_table(TableName=name)["Table"]["TableArn"])


@dataclass
class Seeded:
    sb: SandboxInfo
    arns: dict[str, str]  # what each seeded resource is called in the tests -> its ARN


def seed(sb: SandboxInfo) -> Seeded:
    """Compliant: table `good` on a rotating key whose policy names its key user, PITR and
    deletion protection on. Non-compliant: a table on the AWS managed key, one on an AWS owned
    key, a key without rotation, a user allowed kms:Decrypt on every key and one holding
    AdministratorAccess."""
    kms, iam = sb.client("kms"), sb.client("iam")
    arns: dict[str, str] = {}
    reader = iam.create_user(UserName="reader")["User"]["Arn"]
    roles = KeyPolicyRoles(account_id=sb.account_id, region=sb.region, users=(reader,))
    good = kms.create_key(Policy=key_policy_json(roles), Description="good")["KeyMetadata"]
    kms.enable_key_rotation(KeyId=good["KeyId"], RotationPeriodInDays=180)
    kms.create_alias(AliasName="alias/good", TargetKeyId=good["KeyId"])
    arns["good-key"] = good["Arn"]
    stale = kms.create_key(Policy=key_policy_json(roles), Description="stale")["KeyMetadata"]
    kms.create_alias(AliasName="alias/stale", TargetKeyId=stale["KeyId"])
    arns["stale-key"] = stale["Arn"]
    on_key = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": good["Arn"]}
    arns["good"] = make_table(sb, "good", on_key, DeletionProtectionEnabled=True)
    sb.client("dynamodb").update_continuous_backups(
        TableName="good", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    arns["managed"] = make_table(sb, "managed", {"Enabled": True, "SSEType": "KMS"})
    arns["owned"] = make_table(sb, "owned", {"Enabled": False})
    iam.create_user(UserName="wide")
    iam.put_user_policy(UserName="wide", PolicyName="all", PolicyDocument=json.dumps(DECRYPT_ALL))
    arns["wide"] = iam.get_user(UserName="wide")["User"]["Arn"]
    # An AWS managed policy allowing everything: only its document, read with GetPolicyVersion,
    # tells the prover that this user can decrypt through root delegation.
    iam.create_user(UserName="admin")
    iam.attach_user_policy(UserName="admin", PolicyArn=ADMINISTRATOR)
    arns["admin"] = iam.get_user(UserName="admin")["User"]["Arn"]
    arns["reader"] = reader
    # A stream whose own policy lets another account's role read its records: only
    # GetResourcePolicy on the stream's ARN shows it.
    arns["streamed"] = make_table(
        sb,
        "streamed",
        {"Enabled": False},
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    stream = sb.client("dynamodb").describe_table(TableName="streamed")["Table"]["LatestStreamArn"]
    arns["stream"] = stream
    arns["partner"] = f"arn:aws:iam::{PARTNER}:role/consumer"
    sb.client("dynamodb").put_resource_policy(
        ResourceArn=stream, Policy=json.dumps(table_policy(arns["partner"], stream, STREAM_READS))
    )
    return Seeded(sb, arns)


PARTNER = "444455556666"
STREAM_READS = ["dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords"]


def table_policy(principal: str, resource: str, actions: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": principal if principal == "*" else {"AWS": principal},
                "Action": actions,
                "Resource": resource,
            }
        ],
    }


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    with running() as sb:
        yield seed(sb)


def audit(
    sb: SandboxInfo,
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    creds: tuple[str, str] | None = None,
) -> int:
    """The command in this process, with the sandbox as the standard credential chain."""
    for k, v in sb.environment().items():
        monkeypatch.setenv(k, v)
    if creds is not None:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds[0])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds[1])
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    return main(["--endpoint-url", sb.endpoint_url, "--quiet", *args])


def findings(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text(encoding="utf-8"))["findings"])


def pairs(items: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(f["rule"], f["resource"]) for f in items}
