"""Every served operation, with every identifier form and with malformed input: 2xx or AWS 4xx."""

from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sandbox import SandboxInfo, running, served
from tests.sandbox.helpers import make_table, unique

# One worker runs the whole module, so its own sandbox is started once.
pytestmark = [pytest.mark.sandbox, pytest.mark.xdist_group("sandbox-fuzz")]

SERVICES = ("dynamodb", "dynamodbstreams", "kms", "iam", "sts")
# Operations that destroy what the others need run last.
_LAST = ("Delete", "Schedule", "Disable", "Remove", "Detach", "Untag", "Revoke", "Retire")


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxInfo]:
    with running() as info:
        yield info


@pytest.fixture(scope="module")
def world(sb: SandboxInfo) -> dict[str, list[Any]]:
    """Identifier forms of real resources, by parameter name."""
    kms, iam = sb.client("kms"), sb.client("iam")
    key = kms.create_key()["KeyMetadata"]
    alias = f"alias/{unique('fuzz')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    alias_arn = f"arn:aws:kms:{sb.region}:{sb.account_id}:{alias}"
    table = make_table(sb, {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]})
    table_arn = f"arn:aws:dynamodb:{sb.region}:{sb.account_id}:table/{table}"
    user = iam.create_user(UserName=unique("fuzz"))["User"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{sb.account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=unique("fuzz"), AssumeRolePolicyDocument=json.dumps(trust))
    key_forms = [key["KeyId"], key["Arn"], alias, alias_arn]
    streamed = sb.client("dynamodb").create_table(
        TableName=unique("fuzz"),
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]
    stream = streamed["LatestStreamArn"]
    streams = sb.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream, ShardId=shard, ShardIteratorType="LATEST"
    )["ShardIterator"]
    return {
        "StreamArn": [stream, table_arn],
        "ShardId": [shard],
        "ShardIterator": [iterator],
        "KeyId": key_forms,
        "TargetKeyId": key_forms,
        "SourceKeyId": key_forms,
        "DestinationKeyId": key_forms,
        "TableName": [table, table_arn],
        "TableArn": [table_arn],
        "ResourceArn": [table_arn, key["Arn"], stream],
        "SourceTableArn": [table_arn],
        "SourceTableName": [table],
        "UserName": [user["UserName"]],
        "RoleName": [role["Role"]["RoleName"]],
        "RoleArn": [role["Role"]["Arn"]],
        "AliasName": [alias],
        "PolicyArn": ["arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"],
    }


def _example(shape: Any, depth: int = 0) -> Any:
    """A value of the shape's type within its documented bounds (not a meaningful one)."""
    kind = shape.type_name
    meta = shape.metadata
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        low, high = int(meta.get("min", 1)), int(meta.get("max", 64))
        return ("fuzzvalue" * 8)[: max(low, min(9, high))].ljust(low, "x")
    if kind in ("integer", "long"):
        return int(meta.get("min", 1))
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return False
    if kind == "blob":
        return b"x" * max(1, int(meta.get("min", 1)))
    if kind == "timestamp":
        return datetime.datetime.now(datetime.UTC)
    if depth > 4:
        return None
    if kind == "list":
        return [_example(shape.member, depth + 1)] if int(meta.get("min", 0)) else []
    if kind == "map":
        return {}
    if kind == "structure":
        return {
            name: _example(shape.members[name], depth + 1)
            for name in shape.required_members
            if name in shape.members
        }
    return None


def _variants(operation: Any, world: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Well-formed parameters, one set per identifier form of each identifying parameter."""
    shape = operation.input_shape
    if shape is None:
        return [{}]
    base = _example(shape)
    variants = [base]
    for name in shape.members:
        for value in world.get(name, []):
            variants.append({**base, name: value})
    return variants


def _malformed(operation: Any) -> list[dict[str, Any]]:
    shape = operation.input_shape
    if shape is None:
        return [{"Unexpected": "member"}]
    wrong: dict[str, Any] = {}
    for name, member in shape.members.items():
        wrong[name] = "not-a-list" if member.type_name in ("list", "structure", "map") else 12345
    return [{}, wrong, {name: None for name in shape.required_members}]


def _outcome(client: Any, operation: str, params: dict[str, Any]) -> tuple[int, str]:
    method = getattr(client, client.meta.method_to_api_mapping and _snake(client, operation))
    try:
        response = method(**params)
    except ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"], exc.response["Error"]["Code"]
    return response["ResponseMetadata"]["HTTPStatusCode"], ""


def _snake(client: Any, operation: str) -> str:
    return next(m for m, op in client.meta.method_to_api_mapping.items() if op == operation)


def _order(name: str) -> tuple[bool, str]:
    return name.startswith(_LAST), name


def _client(sb: SandboxInfo, service: str, validate: bool) -> Any:
    config = Config(
        retries={"max_attempts": 1, "mode": "standard"},
        parameter_validation=validate,
        read_timeout=30,
    )
    return sb.session().client(service, endpoint_url=sb.endpoint_url, config=config)


@pytest.mark.parametrize("service", SERVICES)
def test_every_served_operation_answers_success_or_an_aws_4xx(
    sb: SandboxInfo, world: dict[str, list[Any]], service: str
) -> None:
    strict, loose = _client(sb, service, True), _client(sb, service, False)
    model = strict.meta.service_model
    sent: list[bool] = []
    for client in (strict, loose):
        client.meta.events.register("before-send", lambda **_: sent.append(True))
    failures = []
    calls = 0
    for name in sorted(served.operations(service), key=_order):
        operation = model.operation_model(name)
        cases = [(strict, p) for p in _variants(operation, world)]
        cases += [(loose, p) for p in _malformed(operation)]
        for client, params in cases:
            sent.clear()
            try:
                status, code = _outcome(client, name, params)
            except Exception as exc:
                if sent:  # the server's answer broke the client: no AWS-shaped response
                    failures.append((name, params, repr(exc)))
                continue  # botocore could not even serialize it: nothing reached the server
            calls += 1
            if status >= 500 or (status >= 400 and not code):
                failures.append((name, params, status, code))
    assert calls > len(served.operations(service))
    assert not failures, failures[:10]


def _raw(sb: SandboxInfo, service: str, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """A correctly signed request with an arbitrary body."""
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    version = {"dynamodb": "1.0", "kms": "1.1"}[service]
    request = AWSRequest(
        method="POST",
        url=sb.endpoint_url + "/",
        data=body,
        headers={"X-Amz-Target": target, "Content-Type": f"application/x-amz-json-{version}"},
    )
    credentials = Credentials(sb.admin_access_key_id, sb.admin_secret_access_key)
    botocore.auth.SigV4Auth(credentials, service, sb.region).add_auth(request)
    prepared = urllib.request.Request(
        request.url, data=body, headers=dict(request.headers.items()), method="POST"
    )
    try:
        with urllib.request.urlopen(prepared, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.mark.parametrize(
    ("service", "target"),
    [
        ("dynamodb", "DynamoDB_20120810.PutItem"),
        ("dynamodb", "DynamoDB_20120810.NoSuchOperation"),
        ("dynamodb", "DynamoDBStreams_20120810.GetRecords"),
        ("dynamodb", "DynamoDBStreams_20120810.GetShardIterator"),
        ("dynamodb", "DynamoDBStreams_20120810.DescribeStream"),
        ("dynamodb", "DynamoDBStreams_20120810.ListStreams"),
        ("kms", "TrentService.DisableKey"),
        ("kms", "TrentService.Decrypt"),
    ],
)
def test_malformed_bodies_are_client_errors(sb: SandboxInfo, service: str, target: str) -> None:
    for body in (b"not json", b"[1, 2]", b'{"TableName": {"x": 1}, "KeyId": [1]}', b"", b"{}"):
        status, answer = _raw(sb, service, target, body)
        assert 200 <= status < 300 or (400 <= status < 500 and answer.get("__type")), (
            target,
            body,
            status,
            answer,
        )
