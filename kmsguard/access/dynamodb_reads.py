"""DynamoDB's read paths: the IAM actions each needs, on which resource, and the table key."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from kmsguard.access.arn import parse_arn

__all__ = [
    "BACKUP",
    "INDEX",
    "PARTIQL_ACTIONS",
    "READ_PATHS",
    "RESTORE_TARGET_ACTIONS",
    "STREAM",
    "TABLE",
    "ReadPath",
    "cross_account_refusal",
    "is_dynamodb",
    "policy_holder",
    "root_lockout_exempt",
]

# The resource a read path's actions are authorized on.
TABLE = "table"  # arn:<p>:dynamodb:<region>:<account>:table/<t>
INDEX = "index"  # .../table/<t>/index/<i>: governed by the table's resource-based policy
STREAM = "stream"  # .../table/<t>/stream/<label>: its own resource-based policy
BACKUP = "backup"  # .../table/<t>/backup/<id>: DynamoDB attaches no policy to a backup

# DynamoDB serves no PartiQL operation to another account's principal, whatever the policies.
PARTIQL_ACTIONS = frozenset(
    f"dynamodb:partiql{verb}" for verb in ("select", "insert", "update", "delete")
)

# "DynamoDB read and write permissions on the target table are necessary for restore
# functionality" (backup and restore IAM page): the caller controls the target, so a restore
# is a read for whoever may restore.
RESTORE_TARGET_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:BatchWriteItem",
)


@dataclass(frozen=True)
class ReadPath:
    """One way to obtain a table's item data (or, `returns_items` false, to reach it)."""

    operation: str
    actions: tuple[str, ...]  # every one must be allowed, each on `resource`
    resource: str  # TABLE, INDEX, STREAM or BACKUP
    decrypts: bool  # needs kms:Decrypt on the table's key through DynamoDB for the caller
    cross_account: bool  # DynamoDB serves it to another account (identity and resource policy)
    returns_items: bool = True
    target_actions: tuple[str, ...] = ()  # on the table a restore creates


READ_PATHS: tuple[ReadPath, ...] = (
    ReadPath("GetItem", ("dynamodb:GetItem",), TABLE, True, True),
    ReadPath("BatchGetItem", ("dynamodb:BatchGetItem",), TABLE, True, True),
    ReadPath("Query", ("dynamodb:Query",), TABLE, True, True),
    ReadPath("Query", ("dynamodb:Query",), INDEX, True, True),
    # A parallel scan (Segment/TotalSegments) is the same action on the same resource.
    ReadPath("Scan", ("dynamodb:Scan",), TABLE, True, True),
    ReadPath("Scan", ("dynamodb:Scan",), INDEX, True, True),
    # TransactGetItems has no IAM action of its own: each Get is authorized as GetItem.
    ReadPath("TransactGetItems", ("dynamodb:GetItem",), TABLE, True, True),
    ReadPath("ExecuteStatement", ("dynamodb:PartiQLSelect",), TABLE, True, False),
    ReadPath("ExecuteStatement", ("dynamodb:PartiQLSelect",), INDEX, True, False),
    ReadPath("BatchExecuteStatement", ("dynamodb:PartiQLSelect",), TABLE, True, False),
    ReadPath("ExecuteTransaction", ("dynamodb:PartiQLSelect",), TABLE, True, False),
    ReadPath("DescribeStream", ("dynamodb:DescribeStream",), STREAM, False, True, False),
    ReadPath("GetShardIterator", ("dynamodb:GetShardIterator",), STREAM, False, True, False),
    ReadPath("GetRecords", ("dynamodb:GetRecords",), STREAM, True, True),
    ReadPath("ExportTableToPointInTime", ("dynamodb:ExportTableToPointInTime",), TABLE, True, True),
    ReadPath(
        "RestoreTableToPointInTime",
        ("dynamodb:RestoreTableToPointInTime",),
        TABLE,
        True,
        True,
        target_actions=RESTORE_TARGET_ACTIONS,
    ),
    ReadPath(
        "RestoreTableFromBackup",
        ("dynamodb:RestoreTableFromBackup",),
        BACKUP,
        True,
        False,
        target_actions=RESTORE_TARGET_ACTIONS,
    ),
)


@lru_cache(maxsize=4096)  # every decision asks it of its resource; ARNs repeat
def _parts(arn: str) -> tuple[str, str, tuple[str, ...]] | None:
    """(account, partition, resource path segments) of a DynamoDB ARN, else None."""
    found = parse_arn(arn)
    if found is None or found.service != "dynamodb":
        return None
    return found.account, found.partition, tuple(found.resource.split("/"))


def policy_holder(arn: str) -> str | None:
    """The ARN whose resource-based policy governs a request on `arn`: the table for the table
    and its indexes, the stream for a stream; None for a DynamoDB resource that can have none
    (backup, export, import, global table) and for any other service's ARN."""
    found = _parts(arn)
    if found is None:
        return None
    path = found[2]
    if len(path) < 2 or path[0] != "table" or not path[1]:
        return None
    if len(path) == 2:
        return arn
    if len(path) == 4 and path[2] == "index" and path[3]:
        return arn[: arn.rindex("/index/")]
    if len(path) == 4 and path[2] == "stream" and path[3]:
        return arn
    return None


def is_dynamodb(arn: str) -> bool:
    return _parts(arn) is not None


def cross_account_refusal(action: str, principal_account: str | None, resource: str) -> str | None:
    """Why DynamoDB refuses the request to another account's principal whatever the policies,
    or None (the standard cross-account rule then applies)."""
    found = _parts(resource)
    if found is None or principal_account is None or found[0] == principal_account:
        return None
    if action.lower() in PARTIQL_ACTIONS:
        return (
            "DynamoDB does not support cross-account access for its PartiQL operations "
            "(ExecuteStatement, BatchExecuteStatement, ExecuteTransaction)"
        )
    return None


def root_lockout_exempt(action: str, principal: str, resource: str) -> bool:
    """The resource account's root may always delete a table's or stream's policy: "the root
    principal in your AWS account can perform DeleteResourcePolicy requests, even if your
    resource-based policy explicitly denies the root principal's access"."""
    found = _parts(resource)
    if found is None or action.lower() != "dynamodb:deleteresourcepolicy":
        return False
    account, partition, _ = found
    return principal == f"arn:{partition}:iam::{account}:root"
