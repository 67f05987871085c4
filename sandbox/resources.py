"""What a request needs: the IAM action, the resource ARN, the resource policy and context."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.iam.models import iam_backends
from moto.kms.models import kms_backends

from kmsguard.contract import CALLER_ACCOUNT, VIA_SERVICE, dynamodb_service_endpoint
from sandbox.principals import Principal
from sandbox.settings import ACCOUNT_ID
from sandbox.wire import ApiRequest

# Item operations: DynamoDB decrypts (or encrypts) with the table key on the caller's behalf.
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
# PartiQL: the statement's verb selects the IAM action, its FROM/INTO/UPDATE names the table.
_PARTIQL_ACTIONS = {
    "select": "PartiQLSelect",
    "insert": "PartiQLInsert",
    "update": "PartiQLUpdate",
    "delete": "PartiQLDelete",
}
_PARTIQL_TABLE = re.compile(r'(?i)\b(?:from|into|update)\s+"?([A-Za-z0-9_.-]+)"?')
_TRANSACT_WRITE_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# Where restores, backups and exports name the table (or backup) their IAM action is on.
_SOURCE_NAMES = ("SourceTableArn", "SourceTableName", "BackupArn", "TableArn")
# IAM calls that act on the caller when no UserName is given.
_IAM_SELF_ACTIONS = frozenset(
    {"GetUser", "ListAccessKeys", "CreateAccessKey", "DeleteAccessKey", "UpdateAccessKey"}
)
KMS_DECRYPT = "kms:Decrypt"
# Cryptographic operations: refused by KMS unless the key is enabled.
KMS_CRYPTO_ACTIONS = frozenset(
    f"kms:{name}"
    for name in (
        "Encrypt",
        "Decrypt",
        "ReEncryptFrom",
        "ReEncryptTo",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "Sign",
        "Verify",
        "GenerateMac",
        "VerifyMac",
    )
)
_KEY_ID_LEN = 36  # moto's ciphertext blobs start with the key id


@dataclass(frozen=True)
class Check:
    """One authorization question: may the principal do `action` on `resource`?"""

    action: str
    resource: str
    resource_policy: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    # Set when the check is a KMS call DynamoDB makes on the caller's behalf.
    via_table: str | None = None
    key_state: str = "Enabled"
    # "trust": `resource_policy` is the trust policy of the role `resource` names (None when
    # there is no such role, which then cannot be assumed).
    policy_kind: str = "resource"
    # The key's grants (ListGrants shape) when `resource` is a KMS key.
    grants: tuple[Mapping[str, Any], ...] = ()


def base_context(principal: Principal, request: ApiRequest) -> dict[str, Any]:
    context: dict[str, Any] = {
        "aws:PrincipalArn": principal.role_arn or principal.arn,
        "aws:PrincipalAccount": principal.account_id,
        "aws:RequestedRegion": request.region,
        "aws:SecureTransport": "false",
    }
    if principal.kind == "user":
        context["aws:username"] = principal.arn.rsplit("/", 1)[-1]
    return context


# ---------------------------------------------------------------- KMS


def aws_managed_key_policy(region: str) -> str:
    """The key policy AWS attaches to `alias/aws/dynamodb`: any account principal, via DynamoDB."""
    usage = {
        "Sid": "Allow access through Amazon DynamoDB for all principals in the account",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": [
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:CreateGrant",
            "kms:DescribeKey",
        ],
        "Resource": "*",
        "Condition": {
            "StringEquals": {
                CALLER_ACCOUNT: ACCOUNT_ID,
                VIA_SERVICE: dynamodb_service_endpoint(region),
            }
        },
    }
    metadata = {
        "Sid": "Allow direct access to key metadata to the account",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
        "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [usage, metadata]})


def find_key(region: str, any_id: str | None) -> Any | None:
    """moto's key for a key id, key ARN, alias name or alias ARN; None when unknown."""
    if not any_id or not isinstance(any_id, str):
        return None
    if any_id.startswith("arn:") and not any_id.startswith(f"arn:aws:kms:{region}:{ACCOUNT_ID}:"):
        return None  # another region's or account's key is not in this sandbox
    kms = kms_backends[ACCOUNT_ID][region]
    name = kms.get_alias_name(any_id)
    if name.startswith("alias/"):
        for key in kms.keys.values():
            if name in key.aliases:
                return key
        return None
    return kms.keys.get(kms.get_key_id(any_id))


def key_policy(key: Any, region: str) -> str:
    if any(str(alias).startswith("alias/aws/") for alias in key.aliases):
        return aws_managed_key_policy(region)
    return str(key.policy or "")


def key_from_ciphertext(region: str, blob: Any) -> Any | None:
    if not isinstance(blob, str):
        return None
    try:
        raw = base64.b64decode(blob, validate=False)
        key_id = raw[:_KEY_ID_LEN].decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return find_key(region, key_id)


def _may_retire(principal: Principal, region: str, params: Mapping[str, Any]) -> bool:
    """AWS: a grant's retiring principal, its grantee when it lists RetireGrant, and the account
    it was created in (the sandbox's one account, whose root the admin is) may retire it without
    any policy (RetireGrant by GrantToken or by KeyId + GrantId)."""
    from moto.kms.models import kms_backends

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


def key_grants(key: Any) -> tuple[dict[str, Any], ...]:
    """The key's grants as ListGrants shows them."""
    out = []
    for grant in getattr(key, "grants", {}).values():
        doc = {k: v for k, v in grant.to_json().items() if v not in (None, {}, "")}
        out.append(doc)
    return tuple(out)


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

    if action == "ReEncrypt":
        checks = []
        source = find_key(region, params.get("SourceKeyId")) or key_from_ciphertext(
            region, params.get("CiphertextBlob")
        )
        if source is not None:
            checks.append(on_key("kms:ReEncryptFrom", source))
        destination = find_key(region, params.get("DestinationKeyId"))
        if destination is not None:
            checks.append(on_key("kms:ReEncryptTo", destination))
        return checks
    if action == "RetireGrant" and _may_retire(principal, region, params):
        return []
    key = None
    for name in ("KeyId", "TargetKeyId"):
        key = key or find_key(region, params.get(name))
    if key is None and action == "DeleteAlias":
        key = find_key(region, params.get("AliasName"))
    if key is None and action == "Decrypt":
        key = key_from_ciphertext(region, params.get("CiphertextBlob"))
    if key is not None:
        return [on_key(f"kms:{action}", key)]
    if any(params.get(name) for name in ("KeyId", "TargetKeyId")) or action == "Decrypt":
        return []  # unknown key: moto answers NotFoundException, as AWS does
    return [Check(f"kms:{action}", "*", None, context)]


# ---------------------------------------------------------------- DynamoDB


def table_name_of(name_or_arn: str) -> str:
    return (
        name_or_arn.split(":table/", 1)[1].split("/")[0]
        if ":table/" in name_or_arn
        else name_or_arn
    )


def table_arn(region: str, name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name_or_arn}"


def table_key(region: str, name_or_arn: str) -> Any | None:
    """The KMS key protecting a table, or None for an AWS-owned key (or no such table)."""
    table = dynamodb_backends[ACCOUNT_ID][region].tables.get(table_name_of(name_or_arn))
    sse = getattr(table, "sse_specification", None) or {}
    if not sse.get("Enabled"):
        return None
    return find_key(region, sse.get("KMSMasterKeyId"))


def _partiql(statements: list[Any]) -> list[tuple[str, str]]:
    found = []
    for entry in statements:
        text = entry.get("Statement") if isinstance(entry, dict) else None
        if not isinstance(text, str) or not text.split():
            continue
        action = _PARTIQL_ACTIONS.get(text.split()[0].lower(), "PartiQLSelect")
        table = _PARTIQL_TABLE.search(text)
        found.append((action, table.group(1) if table else ""))
    return found


def _tables_and_actions(request: ApiRequest) -> list[tuple[str, str]]:
    params, action = request.params, request.action
    if action == "ExecuteStatement":
        return _partiql([params])
    if action in ("BatchExecuteStatement", "ExecuteTransaction"):
        entries = params.get("Statements") or params.get("TransactStatements") or []
        return _partiql(entries if isinstance(entries, list) else [])
    if action in ("BatchGetItem", "BatchWriteItem"):
        items = params.get("RequestItems")
        return [(action, str(name)) for name in items] if isinstance(items, dict) else []
    if action == "TransactGetItems":
        found = []
        for item in params.get("TransactItems") or []:
            get = item.get("Get") if isinstance(item, dict) else None
            if isinstance(get, dict) and get.get("TableName"):
                found.append(("GetItem", str(get["TableName"])))
        return found
    if action == "TransactWriteItems":
        found = []
        for item in params.get("TransactItems") or []:
            for kind, item_action in _TRANSACT_WRITE_ACTIONS.items():
                op = item.get(kind) if isinstance(item, dict) else None
                if isinstance(op, dict) and op.get("TableName"):
                    found.append((item_action, str(op["TableName"])))
        return found
    for name in ("TableName", "ResourceArn", "StreamArn", *_SOURCE_NAMES):
        if params.get(name):
            return [(action, str(params[name]))]
    return [(action, "")]


def dynamodb_checks(principal: Principal, request: ApiRequest) -> list[Check]:
    region = request.region
    context = base_context(principal, request)
    checks: list[Check] = []
    seen: set[tuple[str, str]] = set()
    for action, table in _tables_and_actions(request):
        if (action, table) in seen:
            continue
        seen.add((action, table))
        resource = table_arn(region, table) if table else "*"
        checks.append(Check(f"dynamodb:{action}", resource, None, context))
    if request.action not in DYNAMODB_ITEM_ACTIONS:
        return checks
    via = {
        **context,
        VIA_SERVICE: dynamodb_service_endpoint(region),
        CALLER_ACCOUNT: principal.account_id,
    }
    for table in sorted({table for _, table in seen if table}):
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


def iam_checks(principal: Principal, request: ApiRequest) -> list[Check]:
    params, action = request.params, request.action
    iam = iam_backends[ACCOUNT_ID]["aws"]
    context = base_context(principal, request)
    if params.get("UserName"):
        resource = _iam_entity_arn("user", params["UserName"], iam.users)
    elif params.get("RoleName"):
        resource = _iam_entity_arn("role", params["RoleName"], iam.roles)
    elif params.get("GroupName"):
        resource = _iam_entity_arn("group", params["GroupName"], iam.groups)
    elif params.get("PolicyArn"):
        resource = params["PolicyArn"]
    elif action in _IAM_SELF_ACTIONS and principal.kind == "user":
        resource = principal.arn
    else:
        resource = "*"
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
