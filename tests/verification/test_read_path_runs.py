"""Against the sandbox: every read path probed on the table, its index and its stream, and
table.readers reading the stream's own policy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmsguard.access.dynamodb_reads import READ_PATHS
from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN, Output
from tests.verification.conftest import Deployed
from tests.verification.test_sandbox_runs import problems, verify
from verification.read_probes import NOT_PROBED

pytestmark = pytest.mark.sandbox

INDEX = "byv"


@pytest.fixture
def streamed(stack: Deployed) -> Deployed:
    """The program's table given an index and a stream afterwards: its configuration has
    neither (Pulumi.yaml), and the verifier must read every path of a table that has them, as
    when someone adds them outside the program."""
    ddb = stack.sb.client("dynamodb")
    deployed = ddb.describe_table(TableName=stack.table)["Table"]["AttributeDefinitions"]
    ddb.update_table(
        TableName=stack.table,
        AttributeDefinitions=[*deployed, {"AttributeName": "v", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": INDEX,
                    "KeySchema": [{"AttributeName": "v", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    return stack


def _stream_arn(d: Deployed) -> str:
    table = d.sb.client("dynamodb").describe_table(TableName=d.table)["Table"]
    return str(table["LatestStreamArn"])


def _read_rows(report: Any, principal: str) -> dict[str, str]:
    return {
        r.action: f"{r.observed}/{r.verdict}"
        for r in report.access_rows
        if r.principal == principal and " on the " in r.action
    }


def _expected_paths() -> set[str]:
    """Every read path that returns items and creates nothing, on the table, index and stream."""
    names = set()
    for path in READ_PATHS:
        if not path.returns_items or path.operation in NOT_PROBED:
            continue
        where = {"table": "table", "index": f"index {INDEX}", "stream": "stream"}[path.resource]
        names.add(f"{path.actions[0]} ({path.operation} on the {where})")
    return names


def test_every_read_path_is_denied_then_granted_for_the_test_user(streamed: Deployed) -> None:
    user = streamed.outputs[Output.TEST_USER_ARN]
    report = verify(streamed)
    rows = _read_rows(report, user)
    assert set(rows) == _expected_paths()
    assert all(v.startswith("deny (kms:Decrypt)/pass") for v in rows.values()), rows
    assert report.exit_code == 0, problems(report, streamed)
    streamed.apply(grant=True)
    report = verify(streamed)
    rows = _read_rows(report, user)
    assert set(rows) == _expected_paths()
    assert set(rows.values()) == {"allow/pass"}, rows
    assert report.exit_code == 0, problems(report, streamed)
    # The stream's probe wrote its own item to read a record of it, and removed it.
    assert streamed.sb.client("dynamodb").scan(TableName=streamed.table)["Items"] == []


def _outsider(d: Deployed, policy: dict[str, Any] | None = None) -> str:
    """An undeclared user with DynamoDB full access, expected not to read."""
    iam = d.sb.client("iam")
    arn = str(iam.create_user(UserName="outsider")["User"]["Arn"])
    iam.attach_user_policy(UserName="outsider", PolicyArn=DYNAMODB_FULL_ACCESS_POLICY_ARN)
    if policy is not None:
        iam.put_user_policy(UserName="outsider", PolicyName="p", PolicyDocument=json.dumps(policy))
    d.outputs[Output.ACCESS_EXPECTATIONS].append(
        {"principal": arn, "action": "dynamodb:GetItem", "expect": "deny"}
    )
    return arn


def test_an_undeclared_principal_is_denied_every_read_path(streamed: Deployed) -> None:
    outsider = _outsider(streamed)
    report = verify(streamed)
    rows = _read_rows(report, outsider)
    assert set(rows) == _expected_paths()
    assert all(v.startswith("deny (kms:Decrypt)/pass") for v in rows.values()), rows
    assert report.exit_code == 0, problems(report, streamed)


def test_attack_a_reader_of_the_stream_alone_is_caught_twice(streamed: Deployed) -> None:
    stream = _stream_arn(streamed)
    decrypt = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": streamed.key_arn}
    no_table = {
        "Effect": "Deny",
        "Action": "dynamodb:*",
        "Resource": [
            streamed.outputs[Output.TABLE_ARN],
            f"{streamed.outputs[Output.TABLE_ARN]}/index/*",
        ],
    }
    outsider = _outsider(streamed, {"Version": "2012-10-17", "Statement": [decrypt, no_table]})
    report = verify(streamed)
    assert report.exit_code == 1
    rows = _read_rows(report, outsider)
    assert rows["dynamodb:GetRecords (GetRecords on the stream)"] == "allow/MISMATCH"
    row = next(r for r in report.config_rows if r.check == "table.readers[user/outsider]")
    assert row.verdict == "MISMATCH"
    assert row.detail.endswith("(GetRecords on the stream)"), row.detail
    assert stream  # the stream the finding is about exists
    # The outsider may not write: the admin wrote the record it read, and removed the item.
    assert streamed.sb.client("dynamodb").scan(TableName=streamed.table)["Items"] == []


def test_a_reader_through_the_streams_own_policy_is_a_mismatch(streamed: Deployed) -> None:
    iam = streamed.sb.client("iam")
    dev = iam.create_user(UserName="dev")["User"]["Arn"]
    decrypt = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": streamed.key_arn}],
    }
    iam.put_user_policy(UserName="dev", PolicyName="decrypt", PolicyDocument=json.dumps(decrypt))
    stream = _stream_arn(streamed)
    grant = {
        "Sid": "LetDevRead",
        "Effect": "Allow",
        "Principal": {"AWS": dev},
        "Action": ["dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"],
        "Resource": stream,
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [grant]})
    streamed.sb.client("dynamodb").put_resource_policy(ResourceArn=stream, Policy=policy)
    report = verify(streamed)
    assert problems(report, streamed) == {"table.readers[user/dev]": "MISMATCH"}
    row = next(r for r in report.config_rows if r.check == "table.readers[user/dev]")
    assert "dynamodb:GetRecords: stream resource policy statement 'LetDevRead'" in row.detail
    assert row.detail.endswith("(GetRecords on the stream)"), row.detail
    # The finding is real: dev reads the stream's records.
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    streams = streamed.sb.client("dynamodbstreams", key["AccessKeyId"], key["SecretAccessKey"])
    shard = streams.describe_stream(StreamArn=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    assert streams.get_records(ShardIterator=iterator)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_table_shared_with_another_account_and_its_key_is_a_mismatch(streamed: Deployed) -> None:
    other = "444455556666"
    table_arn = streamed.outputs[Output.TABLE_ARN]
    share = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{other}:root"},
        "Action": "dynamodb:Query",
        "Resource": f"{table_arn}/index/*",
    }
    ddb = streamed.sb.client("dynamodb")
    ddb.put_resource_policy(
        ResourceArn=table_arn, Policy=json.dumps({"Version": "2012-10-17", "Statement": [share]})
    )
    assert "table.readers[account 444455556666]" not in problems(verify(streamed), streamed)
    policy = json.loads(
        streamed.sb.client("kms").get_key_policy(KeyId=streamed.key_arn, PolicyName="default")[
            "Policy"
        ]
    )
    policy["Statement"].append(
        {
            "Sid": "ShareWithPartner",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{other}:root"},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    streamed.sb.client("kms").put_key_policy(
        KeyId=streamed.key_arn, PolicyName="default", Policy=json.dumps(policy)
    )
    report = verify(streamed)
    assert report.exit_code == 1
    row = next(r for r in report.config_rows if r.check == f"table.readers[account {other}]")
    assert row.verdict == "MISMATCH"
    assert row.detail.endswith(f"(Query on the index {INDEX})"), row.detail
    assert "'ShareWithPartner'" in row.detail
