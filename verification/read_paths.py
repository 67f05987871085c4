"""The deployed table's read paths: each of kmsguard's READ_PATHS on the table, its indexes and its
stream, with the resource-based policy that governs it, read from the live account."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from kmsguard.access.dynamodb_reads import BACKUP, INDEX, READ_PATHS, STREAM, TABLE, ReadPath
from kmsguard.aws_errors import error_code

# A backup of the table as AWS names them (`backup/<14 digits>-<8 hex>`): a policy naming the
# table's backups by pattern covers it; no resource-based policy can be attached to a backup.
_SOME_BACKUP = "backup/01700000000000-0a1b2c3d"


@dataclass(frozen=True)
class Target:
    """One read path on one deployed resource, and the resource-based policy deciding it."""

    path: ReadPath
    resource: str
    resource_policy: Mapping[str, Any] | None
    where: str  # "table", "index <name>", "stream", "backups"

    @property
    def label(self) -> str:
        return f"{self.path.operation} on the {self.where}"

    @property
    def policy_name(self) -> str:
        return "stream resource policy" if self.path.resource == STREAM else "table resource policy"


@dataclass(frozen=True)
class DeployedTable:
    """What the account says about the table: its indexes, its stream, their policies."""

    table_arn: str
    indexes: tuple[str, ...] = ()
    stream_arn: str | None = None
    table_policy: Mapping[str, Any] | None = None
    stream_policy: Mapping[str, Any] | None = None


def targets(table: DeployedTable) -> Iterator[Target]:
    """Every read path that returns items, on each resource the deployed table has."""
    for path in READ_PATHS:
        if not path.returns_items:
            continue
        if path.resource == TABLE:
            yield Target(path, table.table_arn, table.table_policy, "table")
        elif path.resource == INDEX:
            for name in table.indexes:
                resource = f"{table.table_arn}/index/{name}"
                yield Target(path, resource, table.table_policy, f"index {name}")
        elif path.resource == STREAM and table.stream_arn:
            yield Target(path, table.stream_arn, table.stream_policy, "stream")
        elif path.resource == BACKUP:
            yield Target(path, f"{table.table_arn}/{_SOME_BACKUP}", None, "backups")


def resource_policy(dynamodb: Any, arn: str) -> dict[str, Any] | None:
    """A table's or stream's resource-based policy, None when it has none."""
    try:
        text = dynamodb.get_resource_policy(ResourceArn=arn)["Policy"]
    except ClientError as exc:
        if error_code(exc) in ("PolicyNotFoundException", "ResourceNotFoundException"):
            return None
        raise
    policy = json.loads(text)
    if not isinstance(policy, dict):
        raise ValueError(f"the resource-based policy of {arn} is not a JSON object")
    return policy


def describe(dynamodb: Any, table_name: str, table_arn: str) -> DeployedTable:
    """The table's indexes and enabled stream (DescribeTable) and the policies of the table and
    the stream (GetResourcePolicy). A table the account does not hold has no paths but its own."""
    try:
        table = dynamodb.describe_table(TableName=table_name)["Table"]
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        return DeployedTable(table_arn)
    indexes = tuple(
        str(index["IndexName"])
        for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
        for index in table.get(kind) or []
    )
    enabled = (table.get("StreamSpecification") or {}).get("StreamEnabled")
    stream = str(table["LatestStreamArn"]) if enabled and table.get("LatestStreamArn") else None
    return DeployedTable(
        table_arn,
        indexes,
        stream,
        resource_policy(dynamodb, table_arn),
        resource_policy(dynamodb, stream) if stream else None,
    )
