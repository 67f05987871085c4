"""A table's resource-based policy on every read path: it may allow, its Deny binds, the key
still decides."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN
from sandbox import SandboxInfo
from tests.access.docs import row
from tests.sandbox.helpers import denied, item, make_key, make_user, unique

pytestmark = pytest.mark.sandbox

INDEX = "byv"


def _gsi_table(sb: SandboxInfo, key: dict[str, Any]) -> tuple[str, str]:
    name = unique("table")
    ddb = sb.client("dynamodb")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "v", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": INDEX,
                "KeySchema": [{"AttributeName": "v", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]},
    )
    ddb.put_item(TableName=name, Item=item("secret", v="plaintext"))
    return name, f"arn:aws:dynamodb:{sb.region}:{sb.account_id}:table/{name}"


def _policy(principal: str, arn: str, effect: str = "Allow", actions: Any = "dynamodb:*") -> str:
    statement = {
        "Effect": effect,
        "Principal": {"AWS": principal},
        "Action": actions,
        "Resource": [arn, f"{arn}/index/*"],
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _reads(ddb: Any, table: str) -> dict[str, Any]:
    """Every read path the sandbox serves, each as a call."""
    select = f'SELECT * FROM "{table}"'
    return {
        "GetItem": lambda: ddb.get_item(TableName=table, Key={"pk": {"S": "secret"}}),
        "BatchGetItem": lambda: ddb.batch_get_item(
            RequestItems={table: {"Keys": [{"pk": {"S": "secret"}}]}}
        ),
        "Query": lambda: ddb.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "secret"}},
        ),
        "Query(index)": lambda: ddb.query(
            TableName=table,
            IndexName=INDEX,
            KeyConditionExpression="v = :v",
            ExpressionAttributeValues={":v": {"S": "plaintext"}},
        ),
        "Scan": lambda: ddb.scan(TableName=table),
        "Scan(segment)": lambda: ddb.scan(TableName=table, Segment=1, TotalSegments=2),
        "Scan(index)": lambda: ddb.scan(TableName=table, IndexName=INDEX),
        "TransactGetItems": lambda: ddb.transact_get_items(
            TransactItems=[{"Get": {"TableName": table, "Key": {"pk": {"S": "secret"}}}}]
        ),
        "ExecuteStatement": lambda: ddb.execute_statement(Statement=select),
        "ExecuteStatement(index)": lambda: ddb.execute_statement(
            Statement=f"SELECT * FROM {table}.{INDEX}"
        ),
        "BatchExecuteStatement": lambda: ddb.batch_execute_statement(
            Statements=[{"Statement": select + " WHERE pk = 'secret'"}]
        ),
        "ExecuteTransaction": lambda: ddb.execute_transaction(
            TransactStatements=[{"Statement": select + " WHERE pk = 'secret'"}]
        ),
    }


def test_a_key_user_reads_through_every_path_with_only_the_table_policy(sb: SandboxInfo) -> None:
    row("sandbox-table-policy")
    user = make_user(sb)  # no identity-based policy at all
    key = make_key(sb, users=(user.arn,))
    table, arn = _gsi_table(sb, key)
    ddb = user.client(sb, "dynamodb")
    for name, call in _reads(ddb, table).items():
        assert denied(call)["Error"]["Code"] == "AccessDeniedException", name
    sb.client("dynamodb").put_resource_policy(ResourceArn=arn, Policy=_policy(user.arn, arn))
    for name, call in _reads(ddb, table).items():
        response = call()
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200, name
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "secret"}})["Item"]["v"]["S"] == (
        "plaintext"
    )


def test_attack_the_table_policy_without_the_key_reads_nothing(sb: SandboxInfo) -> None:
    row("sandbox-table-policy")
    user = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    key = make_key(sb)  # the user is no key user
    table, arn = _gsi_table(sb, key)
    sb.client("dynamodb").put_resource_policy(ResourceArn=arn, Policy=_policy(user.arn, arn))
    for name, call in _reads(user.client(sb, "dynamodb"), table).items():
        response = denied(call)
        assert response["Error"]["Code"] == "AccessDeniedException", name
        assert "kms:Decrypt" in response["Error"]["Message"], name


def test_attack_a_deny_in_the_table_policy_beats_the_identity_allow(sb: SandboxInfo) -> None:
    row("sandbox-table-policy")
    user = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    key = make_key(sb, users=(user.arn,))
    table, arn = _gsi_table(sb, key)
    ddb = user.client(sb, "dynamodb")
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "secret"}})["Item"]
    sb.client("dynamodb").put_resource_policy(
        ResourceArn=arn, Policy=_policy(user.arn, arn, "Deny", ["dynamodb:*"])
    )
    for name, call in _reads(ddb, table).items():
        response = denied(call)
        assert response["Error"]["Code"] == "AccessDeniedException", name
        assert "explicit deny" in response["Error"]["Message"], name
    # The table's ARN as TableName is the same table, and as denied.
    assert denied(lambda: ddb.scan(TableName=arn))["Error"]["Code"] == "AccessDeniedException"


def test_attack_a_deny_binds_the_account_root_but_it_may_delete_the_policy(
    sb: SandboxInfo,
) -> None:
    row("sandbox-table-policy")
    key = make_key(sb)
    table, arn = _gsi_table(sb, key)
    root = f"arn:aws:iam::{sb.account_id}:root"
    admin = sb.client("dynamodb")
    admin.put_resource_policy(ResourceArn=arn, Policy=_policy(root, arn, "Deny"))
    response = denied(lambda: admin.get_item(TableName=table, Key={"pk": {"S": "secret"}}))
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert denied(lambda: admin.get_resource_policy(ResourceArn=arn))["Error"]["Code"] == (
        "AccessDeniedException"
    )
    admin.delete_resource_policy(ResourceArn=arn)
    assert admin.get_item(TableName=table, Key={"pk": {"S": "secret"}})["Item"]


def test_a_deleted_tables_policy_does_not_pass_to_a_new_table_of_its_name(
    sb: SandboxInfo,
) -> None:
    row("sandbox-table-policy")
    user = make_user(sb)
    key = make_key(sb, users=(user.arn,))
    table, arn = _gsi_table(sb, key)
    admin = sb.client("dynamodb")
    admin.put_resource_policy(ResourceArn=arn, Policy=_policy(user.arn, arn))
    admin.delete_table(TableName=table)
    admin.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]},
    )
    ddb = user.client(sb, "dynamodb")
    assert denied(lambda: ddb.scan(TableName=table))["Error"]["Code"] == "AccessDeniedException"


@pytest.mark.parametrize(
    "policy",
    [
        "not json",
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny"}]}),
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*"}]}),
    ],
)
def test_attack_an_unreadable_table_policy_is_refused(sb: SandboxInfo, policy: str) -> None:
    row("sandbox-table-policy")
    _, arn = _gsi_table(sb, make_key(sb))
    admin = sb.client("dynamodb")
    response = denied(lambda: admin.put_resource_policy(ResourceArn=arn, Policy=policy))
    assert response["Error"]["Code"] == "ValidationException"
    assert "policy" in response["Error"]["Message"].lower()
    assert denied(lambda: admin.get_resource_policy(ResourceArn=arn))["Error"]["Code"] == (
        "PolicyNotFoundException"
    )


def test_unknown_streams_and_create_table_policies_are_refused(sb: SandboxInfo) -> None:
    row("sandbox-table-policy")
    _, arn = _gsi_table(sb, make_key(sb))
    admin = sb.client("dynamodb")
    stream = f"{arn}/stream/2024-01-01T00:00:00.000"  # the table has no stream
    response = denied(
        lambda: admin.put_resource_policy(ResourceArn=stream, Policy=_policy("*", arn))
    )
    assert response["Error"]["Code"] == "ResourceNotFoundException"
    response = denied(
        lambda: admin.create_table(
            TableName=unique("table"),
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            ResourcePolicy=_policy("*", arn, "Deny"),
        )
    )
    assert response["Error"]["Code"] == "ValidationException"
    assert "PutResourcePolicy" in response["Error"]["Message"]


def test_attack_a_table_policy_deny_closes_restore_and_export(sb: SandboxInfo) -> None:
    row("sandbox-table-policy")
    user = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    key = make_key(sb, users=(user.arn,))
    table, arn = _gsi_table(sb, key)
    deny = _policy(
        user.arn,
        arn,
        "Deny",
        ["dynamodb:RestoreTableToPointInTime", "dynamodb:ExportTableToPointInTime"],
    )
    sb.client("dynamodb").put_resource_policy(ResourceArn=arn, Policy=deny)
    ddb = user.client(sb, "dynamodb")
    copy = unique("copy")
    calls = {
        "restore": lambda: ddb.restore_table_to_point_in_time(
            SourceTableName=table, TargetTableName=copy, UseLatestRestorableTime=True
        ),
        "export": lambda: ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket="exfiltration"),
    }
    for name, call in calls.items():
        response = denied(call)
        assert response["Error"]["Code"] == "AccessDeniedException", name
        assert "explicit deny" in response["Error"]["Message"], name
    assert copy not in sb.client("dynamodb").list_tables()["TableNames"]
