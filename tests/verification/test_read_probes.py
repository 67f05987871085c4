"""The read-path probe matrix: every item-returning read path on each resource, and what a
probe's answer proves."""

from __future__ import annotations

from typing import Any

from kmsguard.access.dynamodb_reads import READ_PATHS
from verification.probes import ALLOW, ERROR
from verification.read_probes import NOT_PROBED, matrix, observe

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"
DESCRIPTION = {
    "TableName": "t",
    "AttributeDefinitions": [
        {"AttributeName": "id", "AttributeType": "S"},
        {"AttributeName": "v", "AttributeType": "N"},
    ],
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "GlobalSecondaryIndexes": [
        {"IndexName": "byv", "KeySchema": [{"AttributeName": "v", "KeyType": "HASH"}]}
    ],
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    "LatestStreamArn": STREAM,
}


def key_for(attributes: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {name: {kind: "1" if kind == "N" else "probe"} for name, kind in attributes}


def test_every_item_returning_read_path_is_probed_or_said_not_to_be() -> None:
    names = {p.name for p in matrix(DESCRIPTION, key_for)}
    for path in READ_PATHS:
        if path.returns_items and path.operation not in NOT_PROBED:
            assert any(f"({path.operation} on the " in n for n in names), path
    assert "dynamodb:PartiQLSelect (ExecuteStatement on the index byv)" in names
    assert "dynamodb:GetRecords (GetRecords on the stream)" in names
    disabled = {**DESCRIPTION, "StreamSpecification": {"StreamEnabled": False}}
    assert not any("stream" in p.name for p in matrix(disabled, key_for))


class Recorder:
    """A client answering every call with `answers[method]`, keeping the calls made."""

    def __init__(self, **answers: Any) -> None:
        self.answers, self.calls = answers, []

    def __getattr__(self, method: str) -> Any:
        def call(**params: Any) -> Any:
            self.calls.append((method, params))
            return self.answers.get(method, {})

        return call


def _stream_probe(written: list[Any]) -> Any:
    return next(p for p in matrix(DESCRIPTION, key_for, written) if "stream" in p.name)


def test_a_stream_read_without_a_record_proves_nothing() -> None:
    streams = Recorder(
        describe_stream={"StreamDescription": {"Shards": [{"ShardId": "s"}]}},
        get_shard_iterator={"ShardIterator": "i"},
        get_records={"Records": []},
    )
    table, written = Recorder(), []
    observed = observe(_stream_probe(written), table, streams)
    assert (observed.kind, observed.code) == (ERROR, "NoRecord")
    # Positioned at the newest record before the probe item was written.
    assert [m for m, _ in streams.calls] == ["describe_stream", "get_shard_iterator", "get_records"]
    assert streams.calls[1][1]["ShardIteratorType"] == "LATEST"
    assert table.calls[0][0] == "put_item" and table.calls[0][1]["Item"]["id"] == {"S": "probe"}
    assert [w.kind for w in written] == [ALLOW]
    streams.answers["get_records"] = {"Records": [{"eventName": "INSERT"}]}
    assert observe(_stream_probe([]), table, streams).kind == ALLOW


def test_a_refused_batch_statement_is_a_refusal() -> None:
    probe = next(p for p in matrix(DESCRIPTION, key_for) if "BatchExecuteStatement" in p.name)
    error = {"Code": "AccessDeniedException", "Message": "not authorized: kms:Decrypt"}
    table = Recorder(batch_execute_statement={"Responses": [{"Error": error}]})
    observed = observe(probe, table, None)
    assert observed.code == "kms:Decrypt"
    [(_, params)] = table.calls
    assert params["Statements"][0]["Statement"] == 'SELECT "id" FROM "t" WHERE "id" = ?'


def test_a_batch_read_names_every_key_attribute() -> None:
    composite = {
        **DESCRIPTION,
        "AttributeDefinitions": [
            *DESCRIPTION["AttributeDefinitions"],
            {"AttributeName": "at", "AttributeType": "N"},
        ],
        "KeySchema": [
            {"AttributeName": "at", "KeyType": "RANGE"},
            {"AttributeName": "id", "KeyType": "HASH"},
        ],
    }
    probe = next(p for p in matrix(composite, key_for) if "BatchExecuteStatement" in p.name)
    table = Recorder(batch_execute_statement={"Responses": [{}]})
    assert observe(probe, table, None).kind == ALLOW
    [statement] = table.calls[0][1]["Statements"]
    assert statement == {
        "Statement": 'SELECT "id" FROM "t" WHERE "id" = ? AND "at" = ?',
        "Parameters": [{"S": "probe"}, {"N": "1"}],
    }
