"""DynamoDB Streams: the stream's own policy or an identity policy, and the key for records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN
from sandbox import SandboxInfo
from tests.access.docs import row
from tests.sandbox.helpers import User, allow, denied, item, make_key, make_user, unique

pytestmark = pytest.mark.sandbox

STREAM_ACTIONS = ["dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords"]


@dataclass(frozen=True)
class Streamed:
    table: str
    table_arn: str
    stream_arn: str
    shard: str


def _streamed_table(sb: SandboxInfo, key: dict[str, Any], prefix: str = "table") -> Streamed:
    name = unique(prefix)
    ddb = sb.client("dynamodb")
    table = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]},
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]
    ddb.put_item(TableName=name, Item=item("secret", v="plaintext"))
    stream = table["LatestStreamArn"]
    shard = sb.client("dynamodbstreams").describe_stream(StreamArn=stream)
    shard_id = shard["StreamDescription"]["Shards"][0]["ShardId"]
    return Streamed(name, table["TableArn"], stream, shard_id)


def _policy(principal: str, resources: list[str], effect: str = "Allow") -> str:
    statement = {
        "Effect": effect,
        "Principal": {"AWS": principal},
        "Action": "dynamodb:*",
        "Resource": resources,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _iterator(streams: Any, s: Streamed) -> str:
    got = streams.get_shard_iterator(
        StreamArn=s.stream_arn, ShardId=s.shard, ShardIteratorType="TRIM_HORIZON"
    )
    return str(got["ShardIterator"])


def _reads(streams: Any, s: Streamed, iterator: str) -> dict[str, Any]:
    return {
        "DescribeStream": lambda: streams.describe_stream(StreamArn=s.stream_arn),
        "GetShardIterator": lambda: _iterator(streams, s),
        "GetRecords": lambda: streams.get_records(ShardIterator=iterator),
    }


def _code(response: dict[str, Any]) -> str:
    return str(response["Error"]["Code"])


def test_a_key_user_reads_the_stream_with_only_the_stream_policy(sb: SandboxInfo) -> None:
    row("sandbox-stream-reads")
    user = make_user(sb)  # no identity-based policy at all
    key = make_key(sb, users=(user.arn,))
    s = _streamed_table(sb, key)
    streams = user.client(sb, "dynamodbstreams")
    iterator = _iterator(sb.client("dynamodbstreams"), s)
    for name, call in _reads(streams, s, iterator).items():
        assert _code(denied(call)) == "AccessDeniedException", name
    assert _code(denied(streams.list_streams)) == "AccessDeniedException"
    sb.client("dynamodb").put_resource_policy(
        ResourceArn=s.stream_arn, Policy=_policy(user.arn, [s.stream_arn])
    )
    for name, call in _reads(streams, s, iterator).items():
        assert call(), name
    records = streams.get_records(ShardIterator=_iterator(streams, s))["Records"]
    assert records[0]["dynamodb"]["NewImage"]["v"] == {"S": "plaintext"}
    # The stream's policy opens the stream, not the table.
    ddb = user.client(sb, "dynamodb")
    assert _code(denied(lambda: ddb.scan(TableName=s.table))) == "AccessDeniedException"


def test_attack_identity_allow_without_the_key_reads_no_record(sb: SandboxInfo) -> None:
    row("sandbox-stream-reads")
    user = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    s = _streamed_table(sb, make_key(sb))  # the user is no key user
    streams = user.client(sb, "dynamodbstreams")
    # Describing the stream and positioning in it return no item: the key is not asked.
    assert streams.describe_stream(StreamArn=s.stream_arn)["StreamDescription"]["Shards"]
    assert streams.list_streams(TableName=s.table)["Streams"][0]["StreamArn"] == s.stream_arn
    response = denied(lambda: streams.get_records(ShardIterator=_iterator(streams, s)))
    assert _code(response) == "AccessDeniedException"
    assert "kms:Decrypt" in response["Error"]["Message"]


def test_attack_the_stream_policy_without_the_key_reads_no_record(sb: SandboxInfo) -> None:
    row("sandbox-stream-reads")
    user = make_user(sb)
    s = _streamed_table(sb, make_key(sb))
    sb.client("dynamodb").put_resource_policy(
        ResourceArn=s.stream_arn, Policy=_policy(user.arn, [s.stream_arn])
    )
    streams = user.client(sb, "dynamodbstreams")
    response = denied(lambda: streams.get_records(ShardIterator=_iterator(streams, s)))
    assert "kms:Decrypt" in response["Error"]["Message"]


def test_attack_a_table_policy_does_not_open_the_stream(sb: SandboxInfo) -> None:
    row("sandbox-stream-reads")
    user = make_user(sb)
    key = make_key(sb, users=(user.arn,))
    s = _streamed_table(sb, key)
    everything = [s.table_arn, f"{s.table_arn}/*", f"{s.table_arn}/stream/*"]
    admin = sb.client("dynamodb")
    admin.put_resource_policy(ResourceArn=s.table_arn, Policy=_policy(user.arn, everything))
    assert user.client(sb, "dynamodb").scan(TableName=s.table)["Items"]
    streams = user.client(sb, "dynamodbstreams")
    iterator = _iterator(sb.client("dynamodbstreams"), s)
    for name, call in _reads(streams, s, iterator).items():
        assert _code(denied(call)) == "AccessDeniedException", name


def test_attack_a_deny_in_the_stream_policy_beats_the_identity_allow(sb: SandboxInfo) -> None:
    row("sandbox-stream-reads")
    user = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    s = _streamed_table(sb, make_key(sb, users=(user.arn,)))
    streams = user.client(sb, "dynamodbstreams")
    iterator = _iterator(streams, s)
    assert streams.get_records(ShardIterator=iterator)["Records"]
    root = f"arn:aws:iam::{sb.account_id}:root"
    admin = sb.client("dynamodb")
    admin.put_resource_policy(
        ResourceArn=s.stream_arn, Policy=_policy(user.arn, [s.stream_arn], "Deny")
    )
    for name, call in _reads(streams, s, iterator).items():
        response = denied(call)
        assert "explicit deny" in response["Error"]["Message"], name
    # A Deny naming the root binds the admin too, who may still delete the policy.
    admin.put_resource_policy(
        ResourceArn=s.stream_arn, Policy=_policy(root, [s.stream_arn], "Deny")
    )
    admin_streams = sb.client("dynamodbstreams")
    assert _code(denied(lambda: _iterator(admin_streams, s))) == "AccessDeniedException"
    admin.delete_resource_policy(ResourceArn=s.stream_arn)
    assert admin_streams.get_records(ShardIterator=_iterator(admin_streams, s))["Records"]


def _decoy_user(sb: SandboxInfo) -> tuple[User, Streamed, Streamed]:
    """A user allowed everything on decoy tables and their streams, a key user of both keys."""
    arn = f"arn:aws:dynamodb:{sb.region}:{sb.account_id}:table/decoy-*"
    user = make_user(sb, inline=allow("dynamodb:*", [arn, f"{arn}/stream/*"]))
    victim = _streamed_table(sb, make_key(sb, users=(user.arn,)), "victim")
    decoy = _streamed_table(sb, make_key(sb, users=(user.arn,)), "decoy")
    return user, victim, decoy


def test_attack_stream_arns_that_moto_would_read_as_the_victims(sb: SandboxInfo) -> None:
    row("sandbox-stream-reads")
    user, victim, decoy = _decoy_user(sb)
    streams = user.client(sb, "dynamodbstreams")
    label = victim.stream_arn.rsplit("/stream/", 1)[1]
    decoy_label = decoy.stream_arn.rsplit("/stream/", 1)[1]
    other_account = victim.stream_arn.replace(f":{sb.account_id}:", ":999999999999:")
    forms = {
        # Names a stream the sandbox does not hold; moto reads the table name alone.
        "another region": victim.stream_arn.replace(f":{sb.region}:", ":us-west-2:"),
        "another account": other_account,
        "the decoy's label": victim.stream_arn.replace(label, decoy_label),
        "a longer label": f"{victim.stream_arn}/x",
        "another partition": victim.stream_arn.replace("arn:aws:", "arn:aws-cn:"),
    }
    for name, arn in forms.items():
        for call in (
            lambda arn=arn: streams.describe_stream(StreamArn=arn),
            lambda arn=arn: streams.get_shard_iterator(
                StreamArn=arn, ShardId=victim.shard, ShardIteratorType="TRIM_HORIZON"
            ),
        ):
            assert _code(denied(call)) == "ResourceNotFoundException", name
    for arn in (victim.table_arn, f"{victim.table_arn}/index/i"):
        response = denied(lambda arn=arn: streams.describe_stream(StreamArn=arn))
        assert _code(response) == "ValidationException", arn
    response = denied(lambda: streams.describe_stream(StreamArn=victim.stream_arn))
    assert victim.stream_arn in response["Error"]["Message"]
    assert streams.describe_stream(StreamArn=decoy.stream_arn)["StreamDescription"]
    # The stream's policy: the victim's is refused on the victim's stream, and a decoy table's
    # ARN with the victim's label names no stream (moto would read the label as a table name).
    ddb = user.client(sb, "dynamodb")
    policy = _policy(user.arn, ["*"])
    response = denied(lambda: ddb.put_resource_policy(ResourceArn=victim.stream_arn, Policy=policy))
    assert _code(response) == "AccessDeniedException"
    assert victim.stream_arn in response["Error"]["Message"]
    crossed = f"{decoy.table_arn}/stream/{label}"
    response = denied(lambda: ddb.put_resource_policy(ResourceArn=crossed, Policy=policy))
    assert _code(response) == "ResourceNotFoundException"
    assert ddb.put_resource_policy(ResourceArn=decoy.stream_arn, Policy=policy)["RevisionId"]
    admin = sb.client("dynamodb")
    response = denied(lambda: admin.get_resource_policy(ResourceArn=victim.stream_arn))
    assert _code(response) == "PolicyNotFoundException"
    assert response["Error"]["Message"].endswith(victim.stream_arn)


def test_attack_a_shard_iterator_is_authorized_on_the_stream_moto_reads(sb: SandboxInfo) -> None:
    row("sandbox-stream-reads")
    user, victim, decoy = _decoy_user(sb)
    streams = user.client(sb, "dynamodbstreams")
    victims = _iterator(sb.client("dynamodbstreams"), victim)
    decoys = _iterator(streams, decoy)
    assert streams.get_records(ShardIterator=decoys)["Records"]
    from tests.sandbox.helpers import raw_call

    creds = (user.access_key_id, user.secret_access_key)
    target = {"X-Amz-Target": "DynamoDBStreams_20120810.GetRecords"}

    def get_records(params: dict[str, Any]) -> Any:
        return raw_call(sb, "dynamodb", "GetRecords", params, creds=creds, headers=target)

    # A decoy parameter beside the victim's iterator: moto reads the iterator alone.
    answer = get_records({"ShardIterator": victims, "StreamArn": decoy.stream_arn})
    assert answer.code == "AccessDeniedException" and victim.stream_arn in answer.text
    # Iterator text naming the decoy's stream around the victim's token, and the reverse:
    # neither is an iterator moto holds.
    token = victims.rsplit("|", 1)[1]
    for forged in (
        f"{decoy.stream_arn}|1|{token}",
        decoys.replace(decoy.stream_arn, victim.stream_arn),
    ):
        answer = get_records({"ShardIterator": forged})
        assert answer.code == "ValidationException", answer.text
    assert "plaintext" not in answer.text


def test_attack_an_iterator_outlives_no_table(sb: SandboxInfo) -> None:
    row("sandbox-stream-reads")
    user = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    key = make_key(sb, users=(user.arn,))
    s = _streamed_table(sb, key)
    streams = user.client(sb, "dynamodbstreams")
    old = _iterator(streams, s)
    admin = sb.client("dynamodb")
    admin.delete_table(TableName=s.table)
    admin.create_table(
        TableName=s.table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    assert _code(denied(lambda: streams.get_records(ShardIterator=old))) == (
        "ExpiredIteratorException"
    )


def test_stream_policies_are_the_streams_own(sb: SandboxInfo) -> None:
    row("sandbox-stream-reads")
    s = _streamed_table(sb, make_key(sb))
    admin = sb.client("dynamodb")
    table_policy = _policy(f"arn:aws:iam::{sb.account_id}:user/y", [s.table_arn], "Deny")
    stream_policy = _policy(f"arn:aws:iam::{sb.account_id}:user/x", [s.stream_arn])
    admin.put_resource_policy(ResourceArn=s.stream_arn, Policy=stream_policy)
    assert _code(denied(lambda: admin.get_resource_policy(ResourceArn=s.table_arn))) == (
        "PolicyNotFoundException"
    )
    admin.put_resource_policy(ResourceArn=s.table_arn, Policy=table_policy)
    assert admin.get_resource_policy(ResourceArn=s.stream_arn)["Policy"] == stream_policy
    admin.delete_resource_policy(ResourceArn=s.stream_arn)
    assert admin.get_resource_policy(ResourceArn=s.table_arn)["Policy"] == table_policy
    for policy in ("not json", json.dumps({"Version": "2012-10-17", "Statement": [{}]})):
        response = denied(
            lambda policy=policy: admin.put_resource_policy(ResourceArn=s.stream_arn, Policy=policy)
        )
        assert _code(response) == "ValidationException"
    stale = s.stream_arn.rsplit("/stream/", 1)[0] + "/stream/2024-01-01T00:00:00.000"
    response = denied(lambda: admin.put_resource_policy(ResourceArn=stale, Policy=stream_policy))
    assert _code(response) == "ResourceNotFoundException"
    tags = [{"Key": "k", "Value": "v"}]
    response = denied(lambda: admin.tag_resource(ResourceArn=s.stream_arn, Tags=tags))
    assert _code(response) == "ValidationException"
