"""The read-path probe matrix: one real read per read path on the table, each index and the
stream, made as a principal. Every read names the probe item's key or counts (Select=COUNT,
Limit=1); the stream is read from the newest position, after the probe writes its own item.
Nothing read is kept."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmsguard.access.dynamodb_reads import INDEX, READ_PATHS, STREAM, TABLE, ReadPath
from verification.probes import ALLOW, Observation, classify

# Read paths the matrix does not call: they create a table or an S3 export, which a
# verification must not leave behind. table.readers judges them from the policies.
NOT_PROBED = frozenset(
    {"ExportTableToPointInTime", "RestoreTableToPointInTime", "RestoreTableFromBackup"}
)

KeyFor = Callable[[tuple[tuple[str, str], ...]], dict[str, Any]]
Call = Callable[[Any, Any], object]  # (dynamodb client, dynamodbstreams client) -> response


@dataclass(frozen=True)
class ReadProbe:
    """One read path on one resource, as a call."""

    path: ReadPath
    where: str  # "table", "index <name>", "stream"
    call: Call

    @property
    def name(self) -> str:
        return f"{self.path.actions[0]} ({self.path.operation} on the {self.where})"


def _key_attributes(schema: Any, types: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    ordered = sorted(schema, key=lambda k: k["KeyType"] != "HASH")
    return tuple((k["AttributeName"], types[k["AttributeName"]]) for k in ordered)


def _batch_error(response: Any, operation: str) -> Any:
    """BatchExecuteStatement answers a refused statement in its response, not as an error."""
    for answer in response.get("Responses", []):
        error = answer.get("Error")
        if error:
            code, message = str(error.get("Code", "")), str(error.get("Message", ""))
            raise ClientError({"Error": {"Code": code, "Message": message}}, operation)
    return response


def _select(table: str, index: str | None, key: dict[str, Any]) -> dict[str, Any]:
    """A PartiQL SELECT of the probe item's key attributes, an equality on each (which
    BatchExecuteStatement requires of a read), the values as parameters."""
    source = f'"{table}"' + (f'."{index}"' if index else "")
    names = list(key)
    where = " AND ".join(f'"{name}" = ?' for name in names)
    statement = f'SELECT "{names[0]}" FROM {source} WHERE {where}'
    return {"Statement": statement, "Parameters": [key[name] for name in names]}


def _table_calls(table: str, key: dict[str, Any]) -> dict[str, Call]:
    hash_name = next(iter(key))
    select = _select(table, None, key)
    return {
        "GetItem": lambda d, s: d.get_item(TableName=table, Key=key, ConsistentRead=True),
        "BatchGetItem": lambda d, s: d.batch_get_item(RequestItems={table: {"Keys": [key]}}),
        "Query": lambda d, s: d.query(
            TableName=table,
            KeyConditionExpression="#k = :v",
            ExpressionAttributeNames={"#k": hash_name},
            ExpressionAttributeValues={":v": key[hash_name]},
            Select="COUNT",
        ),
        "Scan": lambda d, s: d.scan(TableName=table, Select="COUNT", Limit=1),
        "TransactGetItems": lambda d, s: d.transact_get_items(
            TransactItems=[{"Get": {"TableName": table, "Key": key}}]
        ),
        "ExecuteStatement": lambda d, s: d.execute_statement(**select),
        "BatchExecuteStatement": lambda d, s: _batch_error(
            d.batch_execute_statement(Statements=[select]), "BatchExecuteStatement"
        ),
        "ExecuteTransaction": lambda d, s: d.execute_transaction(TransactStatements=[select]),
    }


def _index_calls(table: str, index: str, key: dict[str, Any]) -> dict[str, Call]:
    hash_name = next(iter(key))
    return {
        "Query": lambda d, s: d.query(
            TableName=table,
            IndexName=index,
            KeyConditionExpression="#k = :v",
            ExpressionAttributeNames={"#k": hash_name},
            ExpressionAttributeValues={":v": key[hash_name]},
            Select="COUNT",
        ),
        "Scan": lambda d, s: d.scan(TableName=table, IndexName=index, Select="COUNT", Limit=1),
        "ExecuteStatement": lambda d, s: d.execute_statement(**_select(table, index, key)),
    }


def _not_verifiable(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "GetRecords")


def _stream_records(
    stream: str, table: str, key: dict[str, Any], written: list[Any], admin: Any
) -> Call:
    """GetRecords of a record the probe wrote itself: positioned at the newest record, it
    writes the probe item (a new value each time, so each write is a record; as the admin
    when the principal may not write) and reads one record. A read that returned no record
    never made DynamoDB decrypt: not verifiable."""

    def call(d: Any, s: Any) -> object:
        shards = s.describe_stream(StreamArn=stream)["StreamDescription"].get("Shards") or []
        if not shards:
            raise _not_verifiable("NoShard", "the stream has no shard")
        iterator = s.get_shard_iterator(
            StreamArn=stream, ShardId=shards[-1]["ShardId"], ShardIteratorType="LATEST"
        )["ShardIterator"]
        item = {**key, "kmsguard-probe": {"S": uuid.uuid4().hex}}
        for writer in (d, admin):
            try:
                if writer is not None:
                    writer.put_item(TableName=table, Item=item)
                    written.append(Observation(ALLOW))
                    break
            except ClientError:
                continue
        answer = s.get_records(ShardIterator=iterator, Limit=1)
        if not answer.get("Records"):
            raise _not_verifiable(
                "NoRecord", "no stream record was returned, so the key was never asked"
            )
        return answer

    return call


def matrix(
    description: Mapping[str, Any],
    key_for: KeyFor,
    written: list[Any] | None = None,
    admin: Any = None,
) -> list[ReadProbe]:
    """A probe per read path (READ_PATHS) that returns items, on the table, each of its indexes
    and its enabled stream, from DescribeTable's `Table`; `key_for` gives the probe item's key
    for key attributes; the stream's probe writes the probe item as the principal, else as
    `admin` (a DynamoDB client), and notes each write in `written`."""
    table = str(description["TableName"])
    types = {a["AttributeName"]: a["AttributeType"] for a in description["AttributeDefinitions"]}
    item_key = key_for(_key_attributes(description["KeySchema"], types))
    calls = _table_calls(table, item_key)
    indexes = {
        str(index["IndexName"]): _index_calls(
            table,
            str(index["IndexName"]),
            key_for(_key_attributes(index["KeySchema"], types)),
        )
        for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
        for index in description.get(kind) or []
    }
    enabled = (description.get("StreamSpecification") or {}).get("StreamEnabled")
    stream = description.get("LatestStreamArn") if enabled else None
    probes: list[ReadProbe] = []
    for path in READ_PATHS:
        if not path.returns_items or path.operation in NOT_PROBED:
            continue
        if path.resource == TABLE:
            probes.append(ReadProbe(path, "table", calls[path.operation]))
        elif path.resource == INDEX:
            probes += [
                ReadProbe(path, f"index {name}", on[path.operation]) for name, on in indexes.items()
            ]
        elif path.resource == STREAM and stream:
            call = _stream_records(
                str(stream), table, item_key, [] if written is None else written, admin
            )
            probes.append(ReadProbe(path, "stream", call))
    return probes


def observe(probe: ReadProbe, dynamodb: Any, streams: Any) -> Observation:
    """Make the probe's call; only whether it was allowed is kept."""
    try:
        probe.call(dynamodb, streams)
    except (ClientError, BotoCoreError) as exc:
        return classify(exc)
    return Observation(ALLOW)
