"""DynamoDB Streams: the stream a request reads, as moto will read it, and what reading it needs."""

from __future__ import annotations

import re
from typing import Any

from moto.dynamodb.exceptions import PolicyNotFoundException
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends

from kmsguard.access import dynamodb_reads
from kmsguard.access.arn import parse_arn
from kmsguard.access.dynamodb_context import decrypt_context
from kmsguard.access.subject import Subject
from sandbox import errors, table_policies
from sandbox.canonical import Refused
from sandbox.check import Check, base_context
from sandbox.keys import KMS_DECRYPT, key_grants, key_policy
from sandbox.settings import ACCOUNT_ID
from sandbox.tables import table_key
from sandbox.wire import ApiRequest

# The API's name in requests (signed as `dynamodb`, told apart by its X-Amz-Target prefix:
# sandbox.canonical).
SERVICE = "dynamodbstreams"
# What each stream operation needs, from kmsguard's read-path table: the IAM actions on the
# stream, and whether DynamoDB decrypts with the table key for the caller.
STREAM_PATHS = {
    path.operation: path
    for path in dynamodb_reads.READ_PATHS
    if path.resource == dynamodb_reads.STREAM
}
_AT_SEQUENCE = frozenset({"AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"})
# moto has no AT_TIMESTAMP iterator.
ITERATOR_TYPES = frozenset({"TRIM_HORIZON", "LATEST"}) | _AT_SEQUENCE
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_SEQUENCE = re.compile(r"[0-9]{21,40}")
_POLICY_ACTIONS = frozenset({"PutResourcePolicy", "GetResourcePolicy", "DeleteResourcePolicy"})


def _refusal(code: str, message: str) -> Refused:
    return Refused(errors.json_error("dynamodb", code, message))


def _tables(region: str) -> Any:
    return dynamodb_backends[ACCOUNT_ID][region].tables


def is_stream_arn(value: object) -> bool:
    """Whether `value` is written as a DynamoDB stream ARN (`table/<t>/stream/<label>`)."""
    arn = parse_arn(value)
    return (
        arn is not None
        and arn.service == "dynamodb"
        and arn.resource_type == "table"
        and "/stream/" in arn.resource_path
    )


def current_arn(table: Any) -> str:
    return f"{table.table_arn}/stream/{table.latest_stream_label}"


def stream_table(region: str, value: Any, field: str = "StreamArn") -> Any:
    """moto's table whose stream `value` names: exactly its current stream's ARN, of this
    region and account. moto reads the table name alone out of the ARN, so any other account,
    region or label would reach this table's stream under another stream's name (and policy)."""
    if not isinstance(value, str) or not is_stream_arn(value):
        raise _refusal(
            "ValidationException",
            f"{field} {str(value)[:128]!r} is not a stream ARN: "
            "arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>.",
        )
    arn = parse_arn(value)
    assert arn is not None
    name, _, label = arn.resource_path.partition("/stream/")
    table = _tables(region).get(name) if _TABLE_NAME.fullmatch(name) else None
    if (
        table is None
        or arn.partition != "aws"
        or arn.region != region
        or arn.account != ACCOUNT_ID
        or not label
        or table.latest_stream_label != label
        or table.stream_shard is None
    ):
        raise _refusal("ResourceNotFoundException", f"Requested resource not found: {value[:256]}")
    if not (table.stream_specification or {}).get("StreamEnabled"):
        # A choice: moto keeps no records of a disabled stream it could serve as AWS does.
        raise _refusal(
            "ResourceNotFoundException",
            f"Stream {value[:256]} is disabled; the sandbox serves enabled streams only.",
        )
    return table


def iterator_table(region: str, value: Any) -> Any:
    """moto's table whose stream a shard iterator reads: the iterator moto will look up, never
    what its text says. An iterator of a stream that is no longer its table's (the table
    deleted and re-created, the stream replaced) has expired."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    if not isinstance(value, str) or not value:
        raise _refusal("ValidationException", "ShardIterator must be a shard iterator (a string).")
    iterator = dynamodbstreams_backends[ACCOUNT_ID][region].shard_iterators.get(value)
    if iterator is None:
        raise _refusal(
            "ValidationException",
            "Invalid ShardIterator: not one GetShardIterator or GetRecords returned.",
        )
    shard = iterator.stream_shard
    table = shard.table
    if _tables(region).get(table.name) is not table or table.stream_shard is not shard:
        raise _refusal(
            "ExpiredIteratorException", "Iterator expired: its stream is not its table's stream."
        )
    return table


def _get_shard_iterator(region: str, params: dict[str, Any]) -> Any:
    table = stream_table(region, params.get("StreamArn"))
    if params.get("ShardId") != table.stream_shard.id:
        shown = str(params.get("ShardId"))[:80]
        raise _refusal("ResourceNotFoundException", f"Requested resource not found: {shown}")
    kind = params.get("ShardIteratorType")
    if kind not in ITERATOR_TYPES:
        raise _refusal(
            "ValidationException",
            f"ShardIteratorType {str(kind)[:40]!r}: one of {', '.join(sorted(ITERATOR_TYPES))}.",
        )
    number = params.get("SequenceNumber")
    if (kind in _AT_SEQUENCE) != (number is not None):
        raise _refusal(
            "ValidationException",
            "SequenceNumber is given with AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER only.",
        )
    if number is not None and not (
        isinstance(number, str)
        and _SEQUENCE.fullmatch(number)
        and int(number) >= table.stream_shard.starting_sequence_number
    ):
        raise _refusal(
            "ValidationException",
            "SequenceNumber must be 21 to 40 digits, within the shard's sequence numbers.",
        )
    return table


def _stream_of(request: ApiRequest) -> Any:
    """The table whose stream the request reads; raise Refused."""
    region, params = request.region, request.params
    if request.action == "GetRecords":
        return iterator_table(region, params.get("ShardIterator"))
    if request.action == "GetShardIterator":
        return _get_shard_iterator(region, params)
    return stream_table(region, params.get("StreamArn"))


def checks(subject: Subject, request: ApiRequest) -> list[Check]:
    """The stream operation's actions on the stream moto will read (its own resource-based
    policy, not the table's), and kms:Decrypt on the table key where it returns items."""
    context = base_context(subject, request)
    if request.action == "ListStreams":
        name = request.params.get("TableName")
        if name is not None and not (isinstance(name, str) and _TABLE_NAME.fullmatch(name)):
            raise _refusal("ValidationException", "TableName must be a table name.")
        return [Check("dynamodb:ListStreams", "*", None, context)]
    path = STREAM_PATHS.get(request.action)
    if path is None:
        message = f"{request.action} is not a DynamoDB Streams read the sandbox knows."
        raise _refusal("ValidationException", message)
    region = request.region
    table = _stream_of(request)
    arn = current_arn(table)
    policy = table_policies.policy_for(region, arn)
    found = [Check(action, arn, policy, context) for action in path.actions]
    key = table_key(region, table.name) if path.decrypts else None
    if key is not None:
        via = {**context, **decrypt_context(region, table.name, subject.account)}
        found.append(
            Check(
                KMS_DECRYPT,
                key.arn,
                key_policy(key, region),
                via,
                table.name,
                str(key.key_state),
                grants=key_grants(key),
            )
        )
    return found


def policy_resource(request: ApiRequest) -> str | None:
    """A stream ARN in PutResourcePolicy, GetResourcePolicy or DeleteResourcePolicy, checked
    to be the table's current stream; None when the request names no stream."""
    value = request.params.get("ResourceArn")
    if request.action not in _POLICY_ACTIONS or not is_stream_arn(value):
        return None
    return current_arn(stream_table(request.region, value, "ResourceArn"))


def serve_stream_policies() -> None:
    """moto looks a resource policy's table up by the ARN's last segment, which for a stream
    is its label: give it the table's name instead, so stream ARNs hold policies too."""
    if getattr(DynamoDBBackend.put_resource_policy, "serves_streams", False):
        return
    originals = {
        name: getattr(DynamoDBBackend, name)
        for name in ("put_resource_policy", "get_resource_policy", "delete_resource_policy")
    }

    def wrap(name: str) -> Any:
        original = originals[name]

        def on_stream_too(self: Any, resource_arn: str, **rest: Any) -> Any:
            if not is_stream_arn(resource_arn):
                return original(self, resource_arn=resource_arn, **rest)
            table = resource_arn.split("/stream/", 1)[0]
            # moto reads the table's name from the ARN's tail: it is asked about the table
            # while the stream's policy stands in the table's place, then each is put back.
            held = self.resource_policies
            table_policy = held.pop(table, None)
            stream_policy = held.pop(resource_arn, None)
            if stream_policy is not None:
                held[table] = stream_policy
            try:
                return original(self, resource_arn=table, **rest)
            except PolicyNotFoundException as exc:
                # Its message names the ARN asked about: the stream's, not the table's.
                raise PolicyNotFoundException(
                    str(exc.exception_msg).replace(table, resource_arn)
                ) from None
            finally:
                now = held.pop(table, None)
                if now is not None:
                    now.resource_arn = resource_arn
                    held[resource_arn] = now
                if table_policy is not None:
                    held[table] = table_policy

        on_stream_too.serves_streams = True  # type: ignore[attr-defined]
        return on_stream_too

    for name in originals:
        setattr(DynamoDBBackend, name, wrap(name))
