"""DynamoDB's own grant on a table's customer managed key, created and retired as AWS does."""

from __future__ import annotations

from typing import Any

from moto.dynamodb.models import dynamodb_backends

from kmsguard.access.dynamodb_context import encryption_context
from kmsguard.contract import dynamodb_service_endpoint
from sandbox.settings import ACCOUNT_ID
from sandbox.tables import table_key, table_name_of
from sandbox.wire import ApiRequest

# What DynamoDB's grant allows it (AWS: "How Amazon DynamoDB uses AWS KMS").
OPERATIONS = [
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "ReEncryptFrom",
    "ReEncryptTo",
    "RetireGrant",
    "DescribeKey",
]
_CREATES = frozenset(
    {"CreateTable", "UpdateTable", "RestoreTableToPointInTime", "RestoreTableFromBackup"}
)


def _grant_name(table: str) -> str:
    return f"dynamodb-table-{table}"


def after(request: ApiRequest) -> None:
    """After a table gets (or leaves) a customer managed key: DynamoDB's grant follows it."""
    if request.service != "dynamodb" or request.action not in _CREATES | {"DeleteTable"}:
        return
    params = request.params
    name = str(params.get("TargetTableName") or params.get("TableName") or "")
    table_name = table_name_of(name)
    region = request.region
    service = dynamodb_service_endpoint(region)
    for key in _keys(region):
        for gid, grant in list(key.grants.items()):
            if grant.name == _grant_name(table_name):
                del key.grants[gid]
    if request.action == "DeleteTable":
        return
    table = dynamodb_backends[ACCOUNT_ID][region].tables.get(table_name)
    key = table_key(region, table_name) if table is not None else None
    if key is None:
        return
    key.add_grant(
        _grant_name(table_name),
        service,
        list(OPERATIONS),
        constraints={"EncryptionContextSubset": encryption_context(table_name, ACCOUNT_ID)},
        retiring_principal=service,
    )


def _keys(region: str) -> list[Any]:
    from moto.kms.models import kms_backends

    return list(kms_backends[ACCOUNT_ID][region].keys.values())
