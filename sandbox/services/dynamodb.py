"""DynamoDB (and DynamoDB Streams): the tables a request touches, and what AWS refuses beyond
authorization."""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from typing import Any

from moto.dynamodb.models import dynamodb_backends

from kmsguard.access.dynamodb_context import decrypt_context
from kmsguard.access.subject import Subject
from sandbox import data_paths, errors, identifiers, partiql, streams, table_grants, table_policies
from sandbox.canonical import Refused
from sandbox.check import Check, base_context
from sandbox.engine import PolicyInvalid
from sandbox.errors import ErrorResponse
from sandbox.keys import KMS_DECRYPT, key_grants, key_policy
from sandbox.services.base import Host, Service
from sandbox.settings import ACCOUNT_ID
from sandbox.tables import table_arn, table_key, table_name_of
from sandbox.wire import ApiRequest

# Item operations: DynamoDB decrypts (or encrypts) with the table key on the caller's behalf.
PARTIQL_ACTIONS = frozenset({"ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"})
DYNAMODB_ITEM_ACTIONS = frozenset(
    {
        "PutItem",
        "GetItem",
        "Query",
        "Scan",
        "UpdateItem",
        "DeleteItem",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)
_TRANSACT_WRITE_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# Where an operation names the table (or backup, export, import) its IAM action is on, in the
# order looked at; the parameters hold names or this sandbox's ARNs (identifiers.py made them so).
_RESOURCE_NAMES = (
    "TableName",
    "ResourceArn",
    "SourceTableName",
    "BackupArn",
    "TableArn",
    "ExportArn",
    "ImportArn",
)
# DynamoDB operations on no particular resource (IAM: "*"). Every other operation must name
# its resource, or it is refused: the authorizer never guesses what moto will touch.
_INDEX_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
DYNAMODB_RESOURCELESS = frozenset(
    {"ListTables", "ListBackups", "ListExports", "DescribeLimits", "DescribeEndpoints"}
)


def partiql_statements(request: ApiRequest) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(IAM action, name as written, tables it reads) of each PartiQL statement; raise Refused."""
    params = request.params
    if request.action == "ExecuteStatement":
        entries: Any = [params]
    else:
        entries = params.get("Statements") or params.get("TransactStatements") or []
    if not isinstance(entries, list) or not entries:
        raise Refused(errors.json_error("dynamodb", "ValidationException", "No statement given."))
    tables = dynamodb_backends[ACCOUNT_ID][request.region].tables
    found: list[tuple[str, str, list[tuple[str, str]]]] = []
    for entry in entries:
        text = entry.get("Statement") if isinstance(entry, dict) else None
        try:
            action, names = partiql.tables_of(text)
        except partiql.StatementError as exc:
            message = (
                f"Statement wasn't well formed, can't be processed: {exc}. The sandbox serves "
                "SELECT, INSERT, UPDATE and DELETE on one table (or index) each."
            )
            raise Refused(errors.json_error("dynamodb", "ValidationException", message)) from None
        found.extend((action, name, partiql.resolve(name, tables)) for name in names)
    return found


def partiql_scope(request: ApiRequest) -> tuple[frozenset[str], frozenset[str]]:
    """The names PartiQL statements were authorized under, and their tables."""
    if request.service != "dynamodb" or request.action not in PARTIQL_ACTIONS:
        return frozenset(), frozenset()
    try:
        statements = partiql_statements(request)
    except Refused:
        return frozenset(), frozenset()
    names = frozenset(name for _, name, _ in statements)
    return names, frozenset(t for _, _, tables in statements for t, _ in tables)


def _tables_and_actions(request: ApiRequest) -> list[tuple[str, str, str]]:
    """(IAM action, table, index or "") of everything the request touches."""
    params, action = request.params, request.action
    if action in PARTIQL_ACTIONS:
        return [(a, t, i) for a, _, tables in partiql_statements(request) for t, i in tables]
    if action in ("BatchGetItem", "BatchWriteItem"):
        items = params.get("RequestItems")
        return [(action, str(name), "") for name in items] if isinstance(items, dict) else []
    if action in ("TransactGetItems", "TransactWriteItems"):
        kinds = {"Get": "GetItem"} if action == "TransactGetItems" else _TRANSACT_WRITE_ACTIONS
        entries = params.get("TransactItems")
        found = []
        for entry in entries if isinstance(entries, list) else []:
            named = [
                (item_action, str(op["TableName"]), "")
                for kind, item_action in kinds.items()
                if isinstance(op := entry.get(kind) if isinstance(entry, dict) else None, dict)
                and op.get("TableName")
            ]
            if not named:
                return []  # an entry naming no table: the request is refused, not half-checked
            found.extend(named)
        return found
    if action == "ImportTable":
        creation = params.get("TableCreationParameters")
        name = creation.get("TableName") if isinstance(creation, dict) else None
        if isinstance(name, str) and name:
            return [(action, name, "")]
    index = params.get("IndexName")
    if index is not None and (not isinstance(index, str) or not _INDEX_NAME.fullmatch(index)):
        message = "IndexName must be an index name: 3 to 255 of A-Z a-z 0-9 _ . -"
        raise Refused(errors.json_error("dynamodb", "ValidationException", message))
    for name in _RESOURCE_NAMES:
        if isinstance(params.get(name), str) and params[name]:
            on_index = index if action in ("Query", "Scan") else ""
            return [(action, str(params[name]), on_index or "")]
    if action in DYNAMODB_RESOURCELESS:
        return [(action, "", "")]
    message = f"{action} must name the table (or backup, export, import) it acts on."
    raise Refused(errors.json_error("dynamodb", "ValidationException", message))


def _table_checks(subject: Subject, request: ApiRequest) -> list[Check]:
    region = request.region
    context = base_context(subject, request)
    checks: list[Check] = []
    seen: set[tuple[str, str, str]] = set()
    found = _tables_and_actions(request)
    if not found:
        message = f"{request.action} names no table: every request names the tables it acts on."
        raise Refused(errors.json_error("dynamodb", "ValidationException", message))
    for action, table, index in found:
        if (action, table, index) in seen:
            continue
        seen.add((action, table, index))
        resource = table_arn(region, table) if table else "*"
        if index:
            # A read through an index is authorized on the index's ARN (IAM: table/t/index/i).
            resource = f"{resource}/index/{index}"
        # The table's policy governs it and its indexes (AWS: a table's resource-based policy
        # "also includes the index associated with the table").
        policy = table_policies.policy_for(region, resource)
        checks.append(Check(f"dynamodb:{action}", resource, policy, context))
    if request.action not in DYNAMODB_ITEM_ACTIONS:
        return checks
    for table in sorted({table for _, table, _ in seen if table}):
        key = table_key(region, table)
        if key is not None:
            policy = key_policy(key, region)
            ctx = {**context, **decrypt_context(region, table_name_of(table), subject.account)}
            checks.append(
                Check(
                    KMS_DECRYPT,
                    key.arn,
                    policy,
                    ctx,
                    table,
                    str(key.key_state),
                    grants=key_grants(key),
                )
            )
    return checks


def checks(subject: Subject, request: ApiRequest) -> list[Check]:
    """The request's actions on its tables (and indexes), then what its data path needs."""
    found = _table_checks(subject, request)
    found.extend(data_paths.checks(subject, request))
    return found


def resolve(request: ApiRequest, subject: Subject) -> dict[str, Any] | None:
    """Every table the request names, named as moto looks it up."""
    if request.protocol != "json":
        return None
    return identifiers.canonical_dynamodb(request)


def validate(
    host: Host, subject: Subject, request: ApiRequest, lockout: Check | None
) -> ErrorResponse | None:
    """A table's policy must be one the authorizer reads: a Deny it could not read would
    otherwise be silently ignored."""
    if request.action == "CreateTable" and "ResourcePolicy" in request.params:
        message = (
            "ResourcePolicy at CreateTable is not served by the sandbox: create the table, "
            "then attach its policy with PutResourcePolicy."
        )
        return errors.json_error("dynamodb", "ValidationException", message)
    if request.action != "PutResourcePolicy":
        return None
    policy = request.params.get("Policy")
    if not isinstance(policy, str):
        return errors.json_error(
            "dynamodb", "ValidationException", "Policy must be a policy document (a string)."
        )
    try:
        host.engine.validate_resource_policy(policy)
    except PolicyInvalid as exc:
        return errors.json_error(
            "dynamodb", "ValidationException", f"Invalid policy document: {exc.message}"
        )
    return None


def confine(request: ApiRequest) -> AbstractContextManager[None]:
    """moto's PartiQL engine sees only the tables the statements were authorized on."""
    return partiql.confined(*partiql_scope(request))


def after(host: Host, request: ApiRequest, chunks: list[bytes]) -> None:
    """Grants and keys the layer keeps for tables created, restored, re-keyed or deleted."""
    data_paths.after(request)
    table_grants.after(request)


SERVICE = Service(
    "dynamodb", resolve=resolve, checks=checks, validate=validate, confine=confine, after=after
)
# DynamoDB Streams: signed as dynamodb, each read on the stream moto will read.
STREAMS = Service(streams.SERVICE, checks=streams.checks)
