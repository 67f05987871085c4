"""Restores, backups, exports and re-encryption: no path to a table's data around its key."""

from __future__ import annotations

import pytest

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN
from sandbox import SandboxInfo
from tests.access.docs import row
from tests.sandbox.helpers import (
    allow,
    cmk_table,
    denied,
    item,
    make_key,
    make_table,
    make_user,
    table_names,
    unique,
)

pytestmark = pytest.mark.sandbox


def _table_names(sb: SandboxInfo) -> set[str]:
    return table_names(sb.client("dynamodb"))


def _seeded_cmk_table(sb: SandboxInfo, users: tuple[str, ...] = ()) -> tuple[dict, str]:
    key = make_key(sb, users=users)
    table = cmk_table(sb, key)
    sb.client("dynamodb").put_item(TableName=table, Item=item("secret", v="plaintext"))
    return key, table


def test_attack_pitr_restore_without_encryption_is_refused(sb: SandboxInfo) -> None:
    row("sandbox-restore-source-key")
    attacker = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    key, table = _seeded_cmk_table(sb)
    ddb = attacker.client(sb, "dynamodb")
    assert denied(lambda: ddb.scan(TableName=table))["Error"]["Code"] == "AccessDeniedException"
    copy = unique("copy")
    response = denied(
        lambda: ddb.restore_table_to_point_in_time(
            SourceTableName=table,
            TargetTableName=copy,
            SSESpecificationOverride={"Enabled": False},
        )
    )
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert (
        "kms:Decrypt" in response["Error"]["Message"] and key["Arn"] in response["Error"]["Message"]
    )
    assert copy not in _table_names(sb)
    # The ARN form of the source is the same side door, and as closed.
    source_arn = f"arn:aws:dynamodb:{sb.region}:{sb.account_id}:table/{table}"
    response = denied(
        lambda: ddb.restore_table_to_point_in_time(
            SourceTableArn=source_arn, TargetTableName=copy, UseLatestRestorableTime=True
        )
    )
    assert "kms:Decrypt" in response["Error"]["Message"]
    assert copy not in _table_names(sb)


def test_attack_backup_restore_without_encryption_is_refused(sb: SandboxInfo) -> None:
    attacker = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    key, table = _seeded_cmk_table(sb)
    ddb = attacker.client(sb, "dynamodb")
    # Taking the backup reads the table through its key.
    response = denied(lambda: ddb.create_backup(TableName=table, BackupName="theft"))
    assert "kms:Decrypt" in response["Error"]["Message"]
    backup = sb.client("dynamodb").create_backup(TableName=table, BackupName="admin")
    copy = unique("copy")
    response = denied(
        lambda: ddb.restore_table_from_backup(
            TargetTableName=copy,
            BackupArn=backup["BackupDetails"]["BackupArn"],
            SSESpecificationOverride={"Enabled": False},
        )
    )
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert (
        "kms:Decrypt" in response["Error"]["Message"] and key["Arn"] in response["Error"]["Message"]
    )
    assert copy not in _table_names(sb)


def test_attack_export_needs_the_key(sb: SandboxInfo) -> None:
    row("sandbox-backup-export-decrypt")
    attacker = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    _, table = _seeded_cmk_table(sb)
    arn = f"arn:aws:dynamodb:{sb.region}:{sb.account_id}:table/{table}"
    response = denied(
        lambda: attacker.client(sb, "dynamodb").export_table_to_point_in_time(
            TableArn=arn, S3Bucket="exfiltrate"
        )
    )
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert "kms:Decrypt" in response["Error"]["Message"]


def test_key_user_restores_and_the_copy_keeps_the_key(sb: SandboxInfo) -> None:
    reader = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    key, table = _seeded_cmk_table(sb, users=(reader.arn,))
    ddb = reader.client(sb, "dynamodb")
    copy = unique("copy")
    ddb.restore_table_to_point_in_time(SourceTableName=table, TargetTableName=copy)
    described = sb.client("dynamodb").describe_table(TableName=copy)["Table"]
    assert described["SSEDescription"]["KMSMasterKeyArn"] == key["Arn"]
    assert ddb.get_item(TableName=copy, Key=item("secret"))["Item"]["v"] == {"S": "plaintext"}
    # Someone who could not read the source cannot read the copy either.
    outsider = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    response = denied(lambda: outsider.client(sb, "dynamodb").scan(TableName=copy))
    assert "kms:Decrypt" in response["Error"]["Message"]

    backup = ddb.create_backup(TableName=table, BackupName="mine")["BackupDetails"]["BackupArn"]
    from_backup = unique("copy")
    ddb.restore_table_from_backup(TargetTableName=from_backup, BackupArn=backup)
    described = sb.client("dynamodb").describe_table(TableName=from_backup)["Table"]
    assert described["SSEDescription"]["KMSMasterKeyArn"] == key["Arn"]
    response = denied(lambda: outsider.client(sb, "dynamodb").scan(TableName=from_backup))
    assert "kms:Decrypt" in response["Error"]["Message"]


def test_restore_needs_read_and_write_on_the_target(sb: SandboxInfo) -> None:
    table = make_table(sb, None)
    source = f"arn:aws:dynamodb:{sb.region}:{sb.account_id}:table/{table}"
    restorer = make_user(sb, inline=allow("dynamodb:RestoreTableToPointInTime", source))
    copy = unique("copy")
    response = denied(
        lambda: restorer.client(sb, "dynamodb").restore_table_to_point_in_time(
            SourceTableName=table, TargetTableName=copy
        )
    )
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert "dynamodb:PutItem" in response["Error"]["Message"]
    assert copy in response["Error"]["Message"]
    assert copy not in _table_names(sb)


def test_restore_into_another_key_needs_a_grant_on_it(sb: SandboxInfo) -> None:
    reader = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    _, table = _seeded_cmk_table(sb, users=(reader.arn,))
    foreign = make_key(sb)  # the reader is no key user of this one
    copy = unique("copy")
    response = denied(
        lambda: reader.client(sb, "dynamodb").restore_table_to_point_in_time(
            SourceTableName=table,
            TargetTableName=copy,
            SSESpecificationOverride={
                "Enabled": True,
                "SSEType": "KMS",
                "KMSMasterKeyId": foreign["Arn"],
            },
        )
    )
    # AmazonDynamoDBFullAccess allows kms:DescribeKey; the grant DynamoDB needs is the refusal.
    assert "kms:CreateGrant" in response["Error"]["Message"]
    assert foreign["Arn"] in response["Error"]["Message"]
    assert copy not in _table_names(sb)


def test_switching_a_table_key_needs_both_keys(sb: SandboxInfo) -> None:
    owner = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    old_key, table = _seeded_cmk_table(sb)
    new_key = make_key(sb, users=(owner.arn,))
    spec = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": new_key["Arn"]}
    response = denied(
        lambda: owner.client(sb, "dynamodb").update_table(TableName=table, SSESpecification=spec)
    )
    assert (
        "kms:Decrypt" in response["Error"]["Message"]
        and old_key["Arn"] in (response["Error"]["Message"])
    )
    # The admin may: the table is re-encrypted under the new key, which then decides.
    sb.client("dynamodb").update_table(TableName=table, SSESpecification=spec)
    described = sb.client("dynamodb").describe_table(TableName=table)["Table"]
    assert described["SSEDescription"]["KMSMasterKeyArn"] == new_key["Arn"]
    got = owner.client(sb, "dynamodb").get_item(TableName=table, Key=item("secret"))
    assert got["Item"]["v"] == {"S": "plaintext"}


def test_creating_a_table_under_a_key_needs_a_grant_on_it(sb: SandboxInfo) -> None:
    creator = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    foreign = make_key(sb)
    name = unique("table")
    spec = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": foreign["Arn"]}
    response = denied(
        lambda: creator.client(sb, "dynamodb").create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            SSESpecification=spec,
        )
    )
    assert "kms:CreateGrant" in response["Error"]["Message"]
    assert name not in _table_names(sb)
    # A key user may (the key policy's grant statement, for AWS resources only).
    own = make_key(sb, users=(creator.arn,))
    creator.client(sb, "dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={**spec, "KMSMasterKeyId": own["Arn"]},
    )
    assert name in _table_names(sb)
