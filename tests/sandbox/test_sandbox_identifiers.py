"""Every identifier form AWS accepts: key id, key ARN, alias name, alias ARN; table name or ARN."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sandbox import SandboxInfo
from sandbox.identifiers import ALIAS_ACCEPTING
from tests.sandbox.helpers import denied, item, make_table, table_names, unique

# One worker runs the module in order: its operations share one key (DisableKey, then EnableKey).
pytestmark = [pytest.mark.sandbox, pytest.mark.xdist_group("sandbox-identifiers")]

FORMS = ("key id", "key ARN", "alias name", "alias ARN")
Call = Callable[[Any, str], Any]
# Operation -> call with the identifier in its key parameter. Each runs once per form.
KMS_CALLS: dict[str, Call] = {
    "DescribeKey": lambda c, k: c.describe_key(KeyId=k),
    "Encrypt": lambda c, k: c.encrypt(KeyId=k, Plaintext=b"p"),
    "GenerateDataKey": lambda c, k: c.generate_data_key(KeyId=k, KeySpec="AES_256"),
    "GenerateDataKeyWithoutPlaintext": lambda c, k: c.generate_data_key_without_plaintext(
        KeyId=k, KeySpec="AES_256"
    ),
    "Decrypt": lambda c, k: c.decrypt(
        KeyId=k, CiphertextBlob=c.encrypt(KeyId=_id(c, k), Plaintext=b"p")["CiphertextBlob"]
    ),
    "ReEncrypt": lambda c, k: c.re_encrypt(
        CiphertextBlob=c.encrypt(KeyId=_id(c, k), Plaintext=b"p")["CiphertextBlob"],
        DestinationKeyId=k,
    ),
    "GetKeyPolicy": lambda c, k: c.get_key_policy(KeyId=k, PolicyName="default"),
    "PutKeyPolicy": lambda c, k: c.put_key_policy(
        KeyId=k, PolicyName="default", Policy=c.get_key_policy(KeyId=_id(c, k))["Policy"]
    ),
    "ListKeyPolicies": lambda c, k: c.list_key_policies(KeyId=k),
    "GetKeyRotationStatus": lambda c, k: c.get_key_rotation_status(KeyId=k),
    "EnableKeyRotation": lambda c, k: c.enable_key_rotation(KeyId=k),
    "DisableKeyRotation": lambda c, k: c.disable_key_rotation(KeyId=k),
    "ListKeyRotations": lambda c, k: c.list_key_rotations(KeyId=k),
    "RotateKeyOnDemand": lambda c, k: c.rotate_key_on_demand(KeyId=k),
    "DisableKey": lambda c, k: c.disable_key(KeyId=k),
    "EnableKey": lambda c, k: c.enable_key(KeyId=k),
    "UpdateKeyDescription": lambda c, k: c.update_key_description(KeyId=k, Description="d"),
    "TagResource": lambda c, k: c.tag_resource(KeyId=k, Tags=[{"TagKey": "a", "TagValue": "b"}]),
    "UntagResource": lambda c, k: c.untag_resource(KeyId=k, TagKeys=["a"]),
    "ListResourceTags": lambda c, k: c.list_resource_tags(KeyId=k),
    "CreateGrant": lambda c, k: c.create_grant(
        KeyId=k,
        GranteePrincipal="arn:aws:iam::123456789012:root",
        Operations=["Decrypt"],
    ),
    "ListGrants": lambda c, k: c.list_grants(KeyId=k),
    "ListAliases": lambda c, k: c.list_aliases(KeyId=k),
    "CreateAlias": lambda c, k: c.create_alias(AliasName=f"alias/{unique('n')}", TargetKeyId=k),
    "ScheduleKeyDeletion": lambda c, k: _deletion(c, k, schedule_with=k, cancel_with=_id(c, k)),
    "CancelKeyDeletion": lambda c, k: _deletion(c, k, schedule_with=_id(c, k), cancel_with=k),
}


def _deletion(client: Any, any_form: str, *, schedule_with: str, cancel_with: str) -> None:
    key_id = _id(client, any_form)
    try:
        client.schedule_key_deletion(KeyId=schedule_with, PendingWindowInDays=7)
        client.cancel_key_deletion(KeyId=cancel_with)
    finally:  # the key serves the other operations afterwards, whatever happened here
        if client.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion":
            client.cancel_key_deletion(KeyId=key_id)
        client.enable_key(KeyId=key_id)


def _id(client: Any, any_form: str) -> str:
    return str(client.describe_key(KeyId=any_form)["KeyMetadata"]["KeyId"])


@pytest.fixture(scope="module")
def key_forms(sb: SandboxInfo) -> dict[str, str]:
    kms = sb.client("kms")
    meta = kms.create_key()["KeyMetadata"]
    alias = f"alias/{unique('ids')}"
    kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    alias_arn = f"arn:aws:kms:{sb.region}:{sb.account_id}:{alias}"
    return dict(zip(FORMS, (meta["KeyId"], meta["Arn"], alias, alias_arn), strict=True))


@pytest.mark.parametrize("operation", sorted(KMS_CALLS))
def test_kms_operation_accepts_the_forms_aws_accepts(
    sb: SandboxInfo, key_forms: dict[str, str], operation: str
) -> None:
    kms = sb.client("kms")
    for form, value in key_forms.items():
        call = KMS_CALLS[operation]
        aliases_ok = operation in ALIAS_ACCEPTING
        if form.startswith("alias") and not aliases_ok:
            response = denied(lambda c=call, v=value: c(kms, v))
            assert response["Error"]["Code"] == "NotFoundException", (operation, form)
            assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
        else:
            call(kms, value)  # no error, no 500: every form AWS accepts works


def test_unknown_and_foreign_key_identifiers_are_not_found(sb: SandboxInfo) -> None:
    kms = sb.client("kms")
    for value in (
        "00000000-0000-0000-0000-000000000000",
        f"arn:aws:kms:{sb.region}:{sb.account_id}:key/00000000-0000-0000-0000-000000000000",
        "alias/does-not-exist",
        "not-a-key",
    ):
        for call in (lambda v: kms.disable_key(KeyId=v), lambda v: kms.describe_key(KeyId=v)):
            response = denied(lambda c=call, v=value: c(v))
            assert response["Error"]["Code"] == "NotFoundException", value
    # A real key's id under another account's or region's ARN is not that key.
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    for arn in (
        f"arn:aws:kms:{sb.region}:999999999999:key/{key_id}",
        f"arn:aws:kms:eu-north-1:{sb.account_id}:key/{key_id}",
    ):
        assert denied(lambda a=arn: kms.disable_key(KeyId=a))["Error"]["Code"] == (
            "NotFoundException"
        )
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Enabled"] is True


def test_dynamodb_accepts_a_table_name_or_arn(sb: SandboxInfo) -> None:
    ddb = sb.client("dynamodb")
    name = make_table(sb, None)
    arn = f"arn:aws:dynamodb:{sb.region}:{sb.account_id}:table/{name}"
    ddb.update_continuous_backups(
        TableName=arn, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    for table in (name, arn):
        assert ddb.describe_table(TableName=table)["Table"]["TableName"] == name
        ddb.put_item(TableName=table, Item=item("a", v=table))
        assert ddb.get_item(TableName=table, Key=item("a"))["Item"]["v"] == {"S": table}
        ddb.update_item(
            TableName=table,
            Key=item("a"),
            UpdateExpression="SET w = :w",
            ExpressionAttributeValues={":w": {"S": "x"}},
        )
        assert (
            ddb.query(
                TableName=table,
                KeyConditionExpression="pk = :v",
                ExpressionAttributeValues={":v": {"S": "a"}},
            )["Count"]
            == 1
        )
        assert ddb.scan(TableName=table)["Count"] == 1
        ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item("b")}}]})
        got = ddb.batch_get_item(RequestItems={table: {"Keys": [item("b")]}})
        assert len(next(iter(got["Responses"].values()))) == 1
        ddb.batch_write_item(RequestItems={table: [{"DeleteRequest": {"Key": item("b")}}]})
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": item("c")}}])
        got = ddb.transact_get_items(
            TransactItems=[{"Get": {"TableName": table, "Key": item("c")}}]
        )
        assert got["Responses"][0]["Item"] == item("c")
        ddb.delete_item(TableName=table, Key=item("c"))
        ddb.describe_continuous_backups(TableName=table)
        ddb.describe_time_to_live(TableName=table)
        backup = ddb.create_backup(TableName=table, BackupName=unique("bk"))
        assert backup["BackupDetails"]["BackupArn"].startswith(arn)
        assert ddb.list_backups(TableName=table)["BackupSummaries"]
        copy = unique("copy")
        ddb.restore_table_to_point_in_time(SourceTableArn=arn, TargetTableName=copy)
        ddb.delete_table(TableName=f"arn:aws:dynamodb:{sb.region}:{sb.account_id}:table/{copy}")
        assert copy not in table_names(ddb)
