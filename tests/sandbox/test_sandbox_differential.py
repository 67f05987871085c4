"""Every served operation, in every form the service accepts: the authorizer saw what moto ran.

A caller is allowed everything on decoy resources (tables, keys, IAM entities named `decoy-*`)
and nothing on the victim's. Each operation is sent naming the victim, then the decoy, in each
encoding (plain, gzip, parameters in the URL for query APIs) and each identifier form moto
accepts (name and ARN; key id, key ARN, alias name, alias ARN; decoy and victim together). A
request on the victim must be refused, naming the victim's resource; the same request on the
decoy must not be refused for authorization (moto may still find it malformed). Were the
authorizer to read a request differently from moto, one side would break: a victim request
carried out, or a decoy request refused.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox import SandboxInfo, served
from sandbox.services.dynamodb import DYNAMODB_RESOURCELESS
from sandbox.services.kms import KMS_KEYLESS
from tests.access.docs import row
from tests.sandbox.helpers import RawAnswer, User, item, make_user, raw_call, unique

pytestmark = pytest.mark.sandbox

ENCODINGS = ("plain", "gzip")
AUTHORIZATION_CODES = {"AccessDeniedException", "AccessDenied"}


@dataclass(frozen=True)
class World:
    sb: SandboxInfo
    caller: User
    victim_table: str
    victim_key: dict[str, Any]
    victim_alias: str
    victim_blob: str

    def decoy_table(self, *, pitr: bool = False) -> str:
        ddb = self.sb.client("dynamodb")
        name = unique("decoy")
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.put_item(TableName=name, Item=item("a", marker="decoy"))
        if pitr:
            ddb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
        return name

    def decoy_key(self) -> tuple[dict[str, Any], str]:
        key = _root_delegating_key(self.sb, self.caller.arn)
        alias = unique("alias/decoy")
        self.sb.client("kms").create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
        return key, alias

    def table_arn(self, name: str) -> str:
        return f"arn:aws:dynamodb:{self.sb.region}:{self.sb.account_id}:table/{name}"

    def call(self, service: str, action: str, params: dict[str, Any], encoding: str) -> RawAnswer:
        creds = (self.caller.access_key_id, self.caller.secret_access_key)
        if encoding == "query":
            from urllib.parse import urlencode

            return raw_call(self.sb, service, action, {}, creds=creds, query=urlencode(params))
        return raw_call(self.sb, service, action, params, creds=creds, gzip_body=encoding == "gzip")


def _root_delegating_key(sb: SandboxInfo, *users: str) -> dict[str, Any]:
    """A key for the account (IAM policies decide) and, by its key policy alone, `users`."""
    statements = [
        {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "kms:*", "Resource": "*"}
        for arn in (f"arn:aws:iam::{sb.account_id}:root", *users)
    ]
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return sb.client("kms").create_key(Policy=policy)["KeyMetadata"]


@pytest.fixture(scope="module")
def world(sb: SandboxInfo) -> World:
    arn = f"arn:aws:dynamodb:{sb.region}:{sb.account_id}"
    kms_arn = f"arn:aws:kms:{sb.region}:{sb.account_id}"
    iam_arn = f"arn:aws:iam::{sb.account_id}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["dynamodb:*", "kms:*", "iam:*"],
                "Resource": [
                    f"{arn}:table/decoy-*",
                    f"{kms_arn}:alias/decoy-*",
                    f"{iam_arn}:user/decoy-*",
                    f"{iam_arn}:role/decoy-*",
                    f"{iam_arn}:group/decoy-*",
                    f"{iam_arn}:policy/decoy-*",
                    f"{iam_arn}:instance-profile/decoy-*",
                ],
            },
            {
                "Effect": "Allow",
                "Action": [f"dynamodb:{op}" for op in sorted(DYNAMODB_RESOURCELESS)],
                "Resource": "*",
            },
        ],
    }
    caller = make_user(sb, inline=policy)
    victim_key = _root_delegating_key(sb)
    victim_alias = unique("alias/victim")
    kms = sb.client("kms")
    kms.create_alias(AliasName=victim_alias, TargetKeyId=victim_key["KeyId"])
    blob = kms.encrypt(KeyId=victim_key["KeyId"], Plaintext=b"victim")["CiphertextBlob"]
    ddb = sb.client("dynamodb")
    victim_table = unique("victim")
    ddb.create_table(
        TableName=victim_table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": victim_key["Arn"]},
    )
    ddb.put_item(TableName=victim_table, Item=item("a", marker="victim"))
    ddb.update_continuous_backups(
        TableName=victim_table,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    return World(
        sb, caller, victim_table, victim_key, victim_alias, base64.b64encode(blob).decode()
    )


# ------------------------------------------------------------------ DynamoDB

Build = Callable[[World, str, str], dict[str, Any]]


def _key(pk: str = "a") -> dict[str, Any]:
    return {"pk": {"S": pk}}


def _stmt(verb: str) -> Callable[[str], str]:
    return {
        "select": lambda t: f'SELECT * FROM "{t}"',
        "select-lower": lambda t: f"select * from {t} where pk = 'a'",
        "update": lambda t: f"UPDATE \"{t}\" SET marker='x' WHERE pk='a'",
        "delete": lambda t: f"DELETE FROM \"{t}\" WHERE pk='a'",
        "insert": lambda t: f"INSERT INTO \"{t}\" VALUE {{'pk':'b'}}",
    }[verb]


def _backup(w: World, table: str) -> str:
    backup = w.sb.client("dynamodb").create_backup(TableName=table, BackupName=unique("b"))
    return str(backup["BackupDetails"]["BackupArn"])


# Each operation's parameters around one table reference (a name or an ARN).
DYNAMODB: dict[str, Build] = {
    "GetItem": lambda w, t, r: {"TableName": r, "Key": _key()},
    "PutItem": lambda w, t, r: {"TableName": r, "Item": item("p")},
    "UpdateItem": lambda w, t, r: {
        "TableName": r,
        "Key": _key(),
        "UpdateExpression": "SET marker = :m",
        "ExpressionAttributeValues": {":m": {"S": "x"}},
    },
    "DeleteItem": lambda w, t, r: {"TableName": r, "Key": _key("gone")},
    "Query": lambda w, t, r: {
        "TableName": r,
        "KeyConditionExpression": "pk = :a",
        "ExpressionAttributeValues": {":a": {"S": "a"}},
    },
    "Scan": lambda w, t, r: {"TableName": r},
    "BatchGetItem": lambda w, t, r: {"RequestItems": {r: {"Keys": [_key()]}}},
    "BatchWriteItem": lambda w, t, r: {"RequestItems": {r: [{"PutRequest": {"Item": item("bw")}}]}},
    "TransactGetItems": lambda w, t, r: {
        "TransactItems": [{"Get": {"TableName": r, "Key": _key()}}]
    },
    "TransactWriteItems": lambda w, t, r: {
        "TransactItems": [{"Put": {"TableName": r, "Item": item("tw")}}]
    },
    "ExecuteStatement": lambda w, t, r: {"Statement": _stmt("select")(t)},
    "BatchExecuteStatement": lambda w, t, r: {
        "Statements": [{"Statement": _stmt("select-lower")(t)}]
    },
    "ExecuteTransaction": lambda w, t, r: {
        "TransactStatements": [{"Statement": _stmt("update")(t)}]
    },
    "DescribeTable": lambda w, t, r: {"TableName": r},
    "DeleteTable": lambda w, t, r: {"TableName": r},
    "UpdateTable": lambda w, t, r: {"TableName": r, "BillingMode": "PAY_PER_REQUEST"},
    "DescribeTimeToLive": lambda w, t, r: {"TableName": r},
    "UpdateTimeToLive": lambda w, t, r: {
        "TableName": r,
        "TimeToLiveSpecification": {"Enabled": True, "AttributeName": "ttl"},
    },
    "DescribeContinuousBackups": lambda w, t, r: {"TableName": r},
    "UpdateContinuousBackups": lambda w, t, r: {
        "TableName": r,
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    },
    "CreateBackup": lambda w, t, r: {"TableName": r, "BackupName": "b"},
    "DescribeBackup": lambda w, t, r: {"BackupArn": _backup(w, t)},
    "DeleteBackup": lambda w, t, r: {"BackupArn": _backup(w, t)},
    "RestoreTableFromBackup": lambda w, t, r: {
        "BackupArn": _backup(w, t),
        "TargetTableName": unique("decoy-copy"),
    },
    "RestoreTableToPointInTime": lambda w, t, r: {
        ("SourceTableArn" if r.startswith("arn:") else "SourceTableName"): r,
        "TargetTableName": unique("decoy-copy"),
    },
    "ExportTableToPointInTime": lambda w, t, r: {"TableArn": w.table_arn(t), "S3Bucket": "b"},
    "TagResource": lambda w, t, r: {
        "ResourceArn": w.table_arn(t),
        "Tags": [{"Key": "k", "Value": "v"}],
    },
    "UntagResource": lambda w, t, r: {"ResourceArn": w.table_arn(t), "TagKeys": ["k"]},
    "ListTagsOfResource": lambda w, t, r: {"ResourceArn": w.table_arn(t)},
    "PutResourcePolicy": lambda w, t, r: {
        "ResourceArn": w.table_arn(t),
        "Policy": json.dumps({"Version": "2012-10-17", "Statement": []}),
    },
    "GetResourcePolicy": lambda w, t, r: {"ResourceArn": w.table_arn(t)},
    "DeleteResourcePolicy": lambda w, t, r: {"ResourceArn": w.table_arn(t)},
}
# Operations that create a table: the resource they touch beside it is the key named.
DYNAMODB_CREATES: dict[str, Callable[[str], dict[str, Any]]] = {
    "CreateTable": lambda key: {
        "TableName": unique("decoy-new"),
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key},
    },
    "ImportTable": lambda key: {
        "S3BucketSource": {"S3Bucket": "b"},
        "InputFormat": "DYNAMODB_JSON",
        "TableCreationParameters": {
            "TableName": unique("decoy-new"),
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
            "SSESpecification": {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key},
        },
    },
}
# Operations on an export or import: named by the ARN the service returned, nothing else.
DYNAMODB_BY_OWN_ARN = {"DescribeExport": "ExportArn", "DescribeImport": "ImportArn"}


def test_every_served_dynamodb_operation_is_in_the_matrix() -> None:
    row("sandbox-differential")
    covered = {*DYNAMODB, *DYNAMODB_CREATES, *DYNAMODB_BY_OWN_ARN, *DYNAMODB_RESOURCELESS}
    assert served.operations("dynamodb") <= covered, served.operations("dynamodb") - covered


def _refused_on(answer: RawAnswer, *resources: str) -> None:
    assert answer.status >= 400, answer.text
    if answer.code in AUTHORIZATION_CODES:
        assert any(r in answer.text for r in resources), answer.text
    else:
        # Refused before authorization: a form the service does not take for this parameter.
        assert answer.code in {"ValidationException", "NotFoundException"}, answer.text


def _not_refused_for_authorization(answer: RawAnswer) -> None:
    assert answer.code not in AUTHORIZATION_CODES, answer.text


def _forms(w: World, table: str) -> Iterator[str]:
    yield table
    yield w.table_arn(table)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("operation", sorted(DYNAMODB))
def test_dynamodb_operation_acts_on_what_was_authorized(
    world: World, operation: str, encoding: str
) -> None:
    row("sandbox-differential")
    build = DYNAMODB[operation]
    victim_resources = (world.victim_table, world.victim_key["Arn"])
    for ref in _forms(world, world.victim_table):
        params = build(world, world.victim_table, ref)
        _refused_on(world.call("dynamodb", operation, params, encoding), *victim_resources)
    for ref_of in (lambda t: t, world.table_arn):
        decoy = world.decoy_table(pitr=True)
        answer = world.call("dynamodb", operation, build(world, decoy, ref_of(decoy)), encoding)
        _not_refused_for_authorization(answer)
        if operation in ("GetItem", "Scan", "Query", "ExecuteStatement"):
            assert answer.status == 200 and '"decoy"' in answer.text, answer.text
    # The victim's data is untouched by everything above.
    got = world.sb.client("dynamodb").get_item(TableName=world.victim_table, Key=_key())
    assert got["Item"]["marker"] == {"S": "victim"}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    "sources",
    [
        {"SourceTableArn": "decoy", "SourceTableName": "victim"},
        {"SourceTableArn": "victim", "SourceTableName": "decoy"},
    ],
    ids=["decoy-arn-victim-name", "victim-arn-decoy-name"],
)
def test_restore_with_two_sources_is_refused(
    world: World, sources: dict[str, str], encoding: str
) -> None:
    row("sandbox-differential")
    decoy = world.decoy_table()
    named = {"decoy": decoy, "victim": world.victim_table}
    params: dict[str, Any] = {"TargetTableName": unique("decoy-copy")}
    for field, which in sources.items():
        table = named[which]
        params[field] = world.table_arn(table) if field == "SourceTableArn" else table
    answer = world.call("dynamodb", "RestoreTableToPointInTime", params, encoding)
    assert answer.code == "ValidationException", answer.text


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    "operation",
    ["BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems", "PartiQL"],
)
def test_decoy_beside_victim_in_one_request_is_refused(
    world: World, operation: str, encoding: str
) -> None:
    row("sandbox-differential")
    decoy = world.decoy_table()
    victim = world.victim_table
    if operation == "PartiQL":
        statements = [{"Statement": _stmt("select")(decoy)}, {"Statement": _stmt("select")(victim)}]
        for action, name in (
            ("BatchExecuteStatement", "Statements"),
            ("ExecuteTransaction", "TransactStatements"),
        ):
            answer = world.call("dynamodb", action, {name: statements}, encoding)
            _refused_on(answer, victim, world.victim_key["Arn"])
        for text in (
            f'SELECT * FROM "{decoy}" , "{victim}"',
            f'SELECT * FROM "{decoy}","{victim}"',
            f'SELECT pk, "from {decoy}" FROM "{victim}"',
        ):
            answer = world.call("dynamodb", "ExecuteStatement", {"Statement": text}, encoding)
            _refused_on(answer, victim, world.victim_key["Arn"])
        return
    build = DYNAMODB[operation]
    both = build(world, decoy, decoy)
    if "RequestItems" in both:
        both["RequestItems"].update(build(world, victim, world.table_arn(victim))["RequestItems"])
    else:
        both["TransactItems"] += build(world, victim, victim)["TransactItems"]
    _refused_on(world.call("dynamodb", operation, both, encoding), victim, world.victim_key["Arn"])


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("operation", sorted(DYNAMODB_CREATES))
def test_table_creation_is_authorized_on_the_key_in_every_form(
    world: World, operation: str, encoding: str
) -> None:
    row("sandbox-differential")
    key = world.victim_key
    for form in (
        key["KeyId"],
        key["Arn"],
        world.victim_alias,
        _alias_arn(world, world.victim_alias),
    ):
        answer = world.call("dynamodb", operation, DYNAMODB_CREATES[operation](form), encoding)
        _refused_on(answer, key["Arn"])
    decoy_key, decoy_alias = world.decoy_key()
    for form in (decoy_key["KeyId"], decoy_key["Arn"], decoy_alias):
        answer = world.call("dynamodb", operation, DYNAMODB_CREATES[operation](form), encoding)
        _not_refused_for_authorization(answer)


def test_table_is_bound_to_the_key_not_to_the_alias(world: World) -> None:
    row("sandbox-differential")
    decoy_key, decoy_alias = world.decoy_key()
    params = DYNAMODB_CREATES["CreateTable"](decoy_alias)
    assert world.call("dynamodb", "CreateTable", params, "plain").status == 200
    described = world.sb.client("dynamodb").describe_table(TableName=params["TableName"])
    assert described["Table"]["SSEDescription"]["KMSMasterKeyArn"] == decoy_key["Arn"]


# ------------------------------------------------------------------ DynamoDB Streams

# Each stream operation's parameters on a stream, as the admin positions in it.
STREAMS: dict[str, Callable[[World, dict[str, Any]], dict[str, Any]]] = {
    "DescribeStream": lambda w, s: {"StreamArn": s["arn"]},
    "GetShardIterator": lambda w, s: {
        "StreamArn": s["arn"],
        "ShardId": s["shard"],
        "ShardIteratorType": "TRIM_HORIZON",
    },
    "GetRecords": lambda w, s: {"ShardIterator": _admin_iterator(w, s)},
}


def _admin_iterator(w: World, s: dict[str, Any]) -> str:
    got = w.sb.client("dynamodbstreams").get_shard_iterator(
        StreamArn=s["arn"], ShardId=s["shard"], ShardIteratorType="TRIM_HORIZON"
    )
    return str(got["ShardIterator"])


def _streamed(w: World, prefix: str, key: str | None) -> dict[str, Any]:
    ddb = w.sb.client("dynamodb")
    name = unique(prefix)
    sse = {"SSESpecification": {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key}}
    table = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        **(sse if key else {}),
    )["TableDescription"]
    ddb.put_item(TableName=name, Item=item("a", marker=prefix))
    arn = table["LatestStreamArn"]
    described = w.sb.client("dynamodbstreams").describe_stream(StreamArn=arn)
    return {"arn": arn, "shard": described["StreamDescription"]["Shards"][0]["ShardId"]}


def test_every_served_streams_operation_is_in_the_matrix() -> None:
    row("sandbox-differential")
    covered = {*STREAMS, "ListStreams"}
    assert served.operations("dynamodbstreams") <= covered, (
        served.operations("dynamodbstreams") - covered
    )


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("operation", sorted(STREAMS))
def test_streams_operation_acts_on_what_was_authorized(
    world: World, operation: str, encoding: str
) -> None:
    row("sandbox-differential")
    creds = (world.caller.access_key_id, world.caller.secret_access_key)
    target = {"X-Amz-Target": f"DynamoDBStreams_20120810.{operation}"}

    def call(params: dict[str, Any]) -> RawAnswer:
        gzip_body = encoding == "gzip"
        return raw_call(
            world.sb,
            "dynamodb",
            operation,
            params,
            creds=creds,
            headers=target,
            gzip_body=gzip_body,
        )

    victim = _streamed(world, "victim", world.victim_key["Arn"])
    _refused_on(call(STREAMS[operation](world, victim)), victim["arn"])
    decoy = _streamed(world, "decoy", None)
    answer = call(STREAMS[operation](world, decoy))
    assert answer.status == 200, answer.text
    if operation == "GetRecords":
        assert '"decoy"' in answer.text, answer.text


# ------------------------------------------------------------------ KMS


def _alias_arn(w: World, alias: str) -> str:
    return f"arn:aws:kms:{w.sb.region}:{w.sb.account_id}:{alias}"


KmsBuild = Callable[[World, str], dict[str, Any]]
_PLAIN = base64.b64encode(b"x").decode()
KMS: dict[str, KmsBuild] = {
    "DescribeKey": lambda w, k: {"KeyId": k},
    "Encrypt": lambda w, k: {"KeyId": k, "Plaintext": _PLAIN},
    "GenerateDataKey": lambda w, k: {"KeyId": k, "KeySpec": "AES_256"},
    "GenerateDataKeyWithoutPlaintext": lambda w, k: {"KeyId": k, "KeySpec": "AES_256"},
    "GenerateMac": lambda w, k: {"KeyId": k, "Message": _PLAIN, "MacAlgorithm": "HMAC_SHA_256"},
    "VerifyMac": lambda w, k: {
        "KeyId": k,
        "Message": _PLAIN,
        "Mac": _PLAIN,
        "MacAlgorithm": "HMAC_SHA_256",
    },
    "Sign": lambda w, k: {"KeyId": k, "Message": _PLAIN, "SigningAlgorithm": "RSASSA_PSS_SHA_256"},
    "Verify": lambda w, k: {
        "KeyId": k,
        "Message": _PLAIN,
        "Signature": _PLAIN,
        "SigningAlgorithm": "RSASSA_PSS_SHA_256",
    },
    "GetPublicKey": lambda w, k: {"KeyId": k},
    "GetKeyPolicy": lambda w, k: {"KeyId": k},
    "PutKeyPolicy": lambda w, k: {
        "KeyId": k,
        "PolicyName": "default",
        "Policy": json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{w.sb.account_id}:root"},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ],
            }
        ),
    },
    "ListKeyPolicies": lambda w, k: {"KeyId": k},
    "EnableKey": lambda w, k: {"KeyId": k},
    "DisableKey": lambda w, k: {"KeyId": k},
    "ScheduleKeyDeletion": lambda w, k: {"KeyId": k, "PendingWindowInDays": 7},
    "CancelKeyDeletion": lambda w, k: {"KeyId": k},
    "EnableKeyRotation": lambda w, k: {"KeyId": k},
    "DisableKeyRotation": lambda w, k: {"KeyId": k},
    "GetKeyRotationStatus": lambda w, k: {"KeyId": k},
    "ListKeyRotations": lambda w, k: {"KeyId": k},
    "RotateKeyOnDemand": lambda w, k: {"KeyId": k},
    "UpdateKeyDescription": lambda w, k: {"KeyId": k, "Description": "d"},
    "TagResource": lambda w, k: {"KeyId": k, "Tags": [{"TagKey": "a", "TagValue": "b"}]},
    "UntagResource": lambda w, k: {"KeyId": k, "TagKeys": ["a"]},
    "ListResourceTags": lambda w, k: {"KeyId": k},
    "CreateGrant": lambda w, k: {
        "KeyId": k,
        "GranteePrincipal": f"arn:aws:iam::{w.sb.account_id}:root",
        "Operations": ["Decrypt"],
    },
    "ListGrants": lambda w, k: {"KeyId": k},
    "RevokeGrant": lambda w, k: {"KeyId": k, "GrantId": "0" * 64},
    "RetireGrant": lambda w, k: {"KeyId": k, "GrantId": "0" * 64},
    "ReplicateKey": lambda w, k: {"KeyId": k, "ReplicaRegion": "us-west-2"},
    "CreateAlias": lambda w, k: {"AliasName": unique("alias/decoy-new"), "TargetKeyId": k},
}
# Operations whose key parameter takes alias names and alias ARNs too (their API references).
ALIAS_FORMS = {
    "DescribeKey",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "Sign",
    "Verify",
    "GetPublicKey",
}
# Covered by their own tests below.
KMS_OWN_TESTS = {"Decrypt", "ReEncrypt", "UpdateAlias", "DeleteAlias"}


def test_every_served_kms_operation_is_in_the_matrix() -> None:
    row("sandbox-differential")
    covered = {*KMS, *KMS_OWN_TESTS, *KMS_KEYLESS}
    assert served.operations("kms") <= covered, served.operations("kms") - covered


def _key_forms(w: World, key: dict[str, Any], alias: str) -> Iterator[str]:
    yield key["KeyId"]
    yield key["Arn"]
    yield alias
    yield _alias_arn(w, alias)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("operation", sorted(KMS))
def test_kms_operation_acts_on_what_was_authorized(
    world: World, operation: str, encoding: str
) -> None:
    row("sandbox-differential")
    build = KMS[operation]
    for form in _key_forms(world, world.victim_key, world.victim_alias):
        answer = world.call("kms", operation, build(world, form), encoding)
        _refused_on(answer, world.victim_key["Arn"])
    # An upper-case key id is no key (key ids are lower case): refused whoever owns it.
    upper = world.call("kms", operation, build(world, world.victim_key["KeyId"].upper()), encoding)
    assert upper.code in {"NotFoundException", "ValidationException"}, upper.text
    decoy, alias = world.decoy_key()
    for form in _key_forms(world, decoy, alias):
        answer = world.call("kms", operation, build(world, form), encoding)
        if operation in ALIAS_FORMS or not form.startswith(
            ("alias/", f"arn:aws:kms:{world.sb.region}:{world.sb.account_id}:alias/")
        ):
            _not_refused_for_authorization(answer)
            if answer.status == 200 and "KeyId" in answer.body:
                assert answer.body["KeyId"] in (decoy["Arn"], decoy["KeyId"]), answer.text
        else:
            assert answer.code == "NotFoundException", answer.text
    assert (
        world.sb.client("kms").describe_key(KeyId=world.victim_key["KeyId"])["KeyMetadata"][
            "KeyState"
        ]
        == "Enabled"
    )


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_ciphertext_names_the_key_in_every_form(world: World, encoding: str) -> None:
    row("sandbox-differential")
    decoy, alias = world.decoy_key()
    victim_blob = world.victim_blob
    decoy_blob = base64.b64encode(
        world.sb.client("kms").encrypt(KeyId=decoy["KeyId"], Plaintext=b"decoy")["CiphertextBlob"]
    ).decode()
    answer = world.call("kms", "Decrypt", {"CiphertextBlob": victim_blob}, encoding)
    _refused_on(answer, world.victim_key["Arn"])
    for form in _key_forms(world, decoy, alias):
        answer = world.call(
            "kms", "Decrypt", {"CiphertextBlob": victim_blob, "KeyId": form}, encoding
        )
        assert answer.code == "IncorrectKeyException", answer.text
        answer = world.call(
            "kms",
            "ReEncrypt",
            {"CiphertextBlob": victim_blob, "SourceKeyId": form, "DestinationKeyId": form},
            encoding,
        )
        assert answer.code == "IncorrectKeyException", answer.text
        answer = world.call(
            "kms", "ReEncrypt", {"CiphertextBlob": victim_blob, "DestinationKeyId": form}, encoding
        )
        _refused_on(answer, world.victim_key["Arn"])
        answer = world.call(
            "kms", "Decrypt", {"CiphertextBlob": decoy_blob, "KeyId": form}, encoding
        )
        assert base64.b64decode(answer.body["Plaintext"]) == b"decoy", answer.text
        answer = world.call(
            "kms",
            "ReEncrypt",
            {"CiphertextBlob": decoy_blob, "SourceKeyId": form, "DestinationKeyId": form},
            encoding,
        )
        assert answer.body.get("SourceKeyId") == decoy["Arn"], answer.text
    for form in _key_forms(world, world.victim_key, world.victim_alias):
        answer = world.call(
            "kms", "ReEncrypt", {"CiphertextBlob": decoy_blob, "DestinationKeyId": form}, encoding
        )
        _refused_on(answer, world.victim_key["Arn"])


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_alias_operations_act_on_what_was_authorized(world: World, encoding: str) -> None:
    row("sandbox-differential")
    decoy, decoy_alias = world.decoy_key()
    other, _ = world.decoy_key()
    victim_arn = world.victim_key["Arn"]
    # The victim's alias: refused on the alias itself, whichever key it would move to.
    for target in (decoy["KeyId"], decoy["Arn"]):
        params = {"AliasName": world.victim_alias, "TargetKeyId": target}
        _refused_on(world.call("kms", "UpdateAlias", params, encoding), world.victim_alias)
    _refused_on(
        world.call("kms", "DeleteAlias", {"AliasName": world.victim_alias}, encoding),
        world.victim_alias,
    )
    # A decoy alias onto the victim's key: refused on that key.
    for target in (world.victim_key["KeyId"], victim_arn):
        params = {"AliasName": decoy_alias, "TargetKeyId": target}
        _refused_on(world.call("kms", "UpdateAlias", params, encoding), victim_arn)
    # Alias forms and reserved names are refused whoever asks.
    for name in (_alias_arn(world, decoy_alias), "alias/aws/dynamodb", "alias/aws/decoy-x"):
        answer = world.call("kms", "DeleteAlias", {"AliasName": name}, encoding)
        assert answer.code in {"ValidationException", "NotAuthorizedException"}, answer.text
    params = {"AliasName": decoy_alias, "TargetKeyId": other["Arn"]}
    assert world.call("kms", "UpdateAlias", params, encoding).status == 200
    assert world.call("kms", "DeleteAlias", {"AliasName": decoy_alias}, encoding).status == 200
    aliases = world.sb.client("kms").list_aliases()["Aliases"]
    assert any(a["AliasName"] == world.victim_alias for a in aliases)


# ------------------------------------------------------------------ IAM

_IAM_NAMES = ("UserName", "RoleName", "GroupName", "PolicyArn", "InstanceProfileName")


def _iam_operations() -> list[str]:
    ops = []
    for op in sorted(served.operations("iam")):
        shape = served.input_shape("iam", op)
        if shape is not None and any(name in shape.members for name in _IAM_NAMES):
            ops.append(op)
    return ops


def _iam_params(world: World, operation: str, prefix: str) -> dict[str, Any]:
    shape = served.input_shape("iam", operation)
    params: dict[str, Any] = {}
    for name in shape.required_members:
        params[name] = "x"
    for name in _IAM_NAMES:
        if name in shape.members:
            params[name] = (
                f"arn:aws:iam::{world.sb.account_id}:policy/{prefix}-p"
                if name == "PolicyArn"
                else f"{prefix}-{name.lower()}"
            )
    return params


@pytest.mark.parametrize("encoding", ("plain", "gzip", "query"))
@pytest.mark.parametrize("operation", _iam_operations())
def test_iam_operation_acts_on_what_was_authorized(
    world: World, operation: str, encoding: str
) -> None:
    row("sandbox-differential")
    answer = world.call("iam", operation, _iam_params(world, operation, "victim"), encoding)
    assert answer.code == "AccessDenied" and "victim-" in answer.text, answer.text
    answer = world.call("iam", operation, _iam_params(world, operation, "decoy"), encoding)
    _not_refused_for_authorization(answer)
