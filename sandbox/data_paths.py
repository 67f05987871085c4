"""Table data beyond item reads: restores, backups, exports and re-encryption need the table key."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from moto.dynamodb.models import dynamodb_backends

from kmsguard.access import dynamodb_reads
from kmsguard.access.dynamodb_context import via_dynamodb
from kmsguard.access.subject import Subject
from kmsguard.contract import GRANT_IS_FOR_AWS_RESOURCE
from sandbox.check import Check, base_context
from sandbox.keys import find_key, key_policy
from sandbox.settings import ACCOUNT_ID
from sandbox.tables import table_arn, table_name_of
from sandbox.wire import ApiRequest

# The restore paths of kmsguard's read-path table: read and write actions on the target table.
RESTORE_TARGET_ACTIONS = tuple(
    action.removeprefix("dynamodb:") for action in dynamodb_reads.RESTORE_TARGET_ACTIONS
)
RESTORES = frozenset({"RestoreTableToPointInTime", "RestoreTableFromBackup"})
# Operations that read every item of the source table through its key.
READS_TABLE_DATA = RESTORES | {"CreateBackup", "ExportTableToPointInTime"}
# Operations that put a new table under a key of the caller's choosing.
CREATES_TABLES = frozenset({"CreateTable", "ImportTable"})
HANDLED = READS_TABLE_DATA | CREATES_TABLES | {"UpdateTable"}


def _backend(region: str) -> Any:
    return dynamodb_backends[ACCOUNT_ID][region]


def source_table(request: ApiRequest) -> Any | None:
    """moto's table whose data the operation reads (a backup's copy for a backup restore)."""
    params, backend = request.params, _backend(request.region)
    if request.action == "RestoreTableFromBackup":
        backup = backend.backups.get(params.get("BackupArn")) if params.get("BackupArn") else None
        return getattr(backup, "table", None)
    for name in ("SourceTableArn", "SourceTableName", "TableArn", "TableName"):
        value = params.get(name)
        if isinstance(value, str) and value:
            return backend.tables.get(table_name_of(value))
    return None


def _key_of(table: Any, region: str) -> Any | None:
    sse = getattr(table, "sse_specification", None) or {}
    if not isinstance(sse, Mapping) or not sse.get("Enabled"):
        return None
    return find_key(region, sse.get("KMSMasterKeyId"))


def _chosen_key(spec: Any, region: str) -> tuple[bool, Any | None]:
    """(whether an SSE specification was given, the customer managed key it names or None)."""
    if not isinstance(spec, Mapping):
        return False, None
    if not spec.get("Enabled", True) or not spec.get("KMSMasterKeyId"):
        return True, None  # AWS owned key, or the AWS managed key: nothing asked of the caller
    return True, find_key(region, spec.get("KMSMasterKeyId"))


def checks(subject: Subject, request: ApiRequest) -> list[Check]:
    """What a data path needs beyond its own dynamodb action (services.dynamodb checks that)."""
    if request.service != "dynamodb" or request.action not in HANDLED:
        return []
    region, params = request.region, request.params
    context = base_context(subject, request)
    via = {**context, **via_dynamodb(region, subject.account)}
    if request.action in CREATES_TABLES:
        spec = params.get("SSESpecification")
        name = params.get("TableName")
        if request.action == "ImportTable":
            creation = params.get("TableCreationParameters")
            spec = creation.get("SSESpecification") if isinstance(creation, Mapping) else None
            name = creation.get("TableName") if isinstance(creation, Mapping) else None
        _, key = _chosen_key(spec, region)
        return [] if key is None else _grant_checks(key, via, str(name or ""), region)
    found: list[Check] = []
    target = params.get("TargetTableName")
    if request.action in RESTORES and isinstance(target, str) and target:
        arn = table_arn(region, target)
        found.extend(
            Check(f"dynamodb:{action}", arn, None, context) for action in RESTORE_TARGET_ACTIONS
        )
    source = source_table(request)
    source_key = _key_of(source, region) if source is not None else None
    name = str(getattr(source, "name", "") or "")
    if request.action == "UpdateTable":
        given, new_key = _chosen_key(params.get("SSESpecification"), region)
        if not given:
            return found
        if source_key is not None and getattr(new_key, "arn", None) != source_key.arn:
            found.append(_key_check("kms:Decrypt", source_key, via, name, region))
        if new_key is not None:
            found.extend(_grant_checks(new_key, via, name, region))
        return found
    if source_key is not None:
        found.append(_key_check("kms:Decrypt", source_key, via, name, region))
    if request.action in RESTORES:
        given, new_key = _chosen_key(params.get("SSESpecificationOverride"), region)
        target_key = new_key if given else source_key
        if target_key is not None:
            found.extend(_grant_checks(target_key, via, str(target or name), region))
    return found


def _key_check(action: str, key: Any, via: Mapping[str, Any], table: str, region: str) -> Check:
    policy = key_policy(key, region)
    return Check(action, key.arn, policy, via, table, str(key.key_state))


def _grant_checks(key: Any, via: Mapping[str, Any], table: str, region: str) -> list[Check]:
    # DynamoDB describes the key and creates a grant for the table on the caller's behalf.
    grant = {**via, GRANT_IS_FOR_AWS_RESOURCE: True}
    return [
        _key_check("kms:DescribeKey", key, via, table, region),
        _key_check("kms:CreateGrant", key, grant, table, region),
    ]


def _encryption(spec: Any, table: Any, region: str) -> dict[str, Any] | None:
    if not isinstance(spec, Mapping) or not spec.get("Enabled", True):
        return None
    key = spec.get("KMSMasterKeyId")
    found = find_key(region, key) if key else None
    arn = found.arn if found is not None else table._get_default_encryption_key(ACCOUNT_ID, region)
    return {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": arn}


def after(request: ApiRequest) -> None:
    """Give restored and updated tables the encryption AWS gives them (moto drops it)."""
    if request.service != "dynamodb" or request.action not in RESTORES | {"UpdateTable"}:
        return
    region, params = request.region, request.params
    tables = _backend(region).tables
    if request.action == "UpdateTable":
        table = tables.get(table_name_of(str(params.get("TableName") or "")))
        if table is not None and "SSESpecification" in params:
            table.sse_specification = _encryption(params["SSESpecification"], table, region)
        return
    restored = tables.get(str(params.get("TargetTableName") or ""))
    if restored is None:
        return
    if "SSESpecificationOverride" in params:
        restored.sse_specification = _encryption(
            params["SSESpecificationOverride"], restored, region
        )
        return
    source = source_table(request)
    restored.sse_specification = copy.deepcopy(getattr(source, "sse_specification", None))
