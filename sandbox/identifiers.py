"""Identifier forms as AWS accepts them, rewritten to the one form moto's backends understand."""

from __future__ import annotations

import re
from typing import Any

from sandbox import errors, resources
from sandbox.errors import ErrorResponse
from sandbox.settings import ACCOUNT_ID
from sandbox.wire import ApiRequest

# KMS operations whose key parameters take an alias name or alias ARN besides a key id or key
# ARN (each operation's API reference: "To specify a KMS key, use its key ID, key ARN, alias
# name, or alias ARN"). Every other operation takes a key id or key ARN only.
ALIAS_ACCEPTING = frozenset(
    {
        "Decrypt",
        "DeriveSharedSecret",
        "DescribeKey",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "GetPublicKey",
        "ReEncrypt",
        "Sign",
        "Verify",
        "VerifyMac",
    }
)
KEY_FIELDS = ("KeyId", "TargetKeyId", "SourceKeyId", "DestinationKeyId")
_KEY_ID = re.compile(r"^(mrk-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _not_found(message: str) -> ErrorResponse:
    return errors.json_error("kms", "NotFoundException", message)


def _is_alias(value: str) -> bool:
    return value.startswith("alias/") or (value.startswith("arn:") and ":alias/" in value)


def canonical_kms(request: ApiRequest) -> tuple[dict[str, Any] | None, ErrorResponse | None]:
    """Key parameters as moto's key ids: (new params or None when unchanged, or a refusal)."""
    params = request.params
    changed: dict[str, Any] | None = None
    if request.action in ("GetKeyPolicy", "PutKeyPolicy") and params.get("PolicyName") is None:
        changed = {**params, "PolicyName": "default"}  # the API's documented default
    for name in KEY_FIELDS:
        value = params.get(name)
        if not isinstance(value, str) or not value:
            continue
        if _is_alias(value) and request.action not in ALIAS_ACCEPTING:
            return None, _not_found(f"Invalid keyId {value}")
        if value.startswith("arn:"):
            key = resources.find_key(request.region, value)
            if key is None:
                kind = "Alias" if _is_alias(value) else "Key"
                tail = "is not found." if kind == "Alias" else "does not exist"
                return None, _not_found(f"{kind} '{value}' {tail}")
            replacement = str(key.id)
        elif _is_alias(value):
            key = resources.find_key(request.region, value)
            if key is None:
                arn = f"arn:aws:kms:{request.region}:{ACCOUNT_ID}:{value}"
                return None, _not_found(f"Alias {arn} is not found.")
            replacement = str(key.id)
        elif not _KEY_ID.match(value):
            return None, _not_found(f"Invalid keyId {value}")
        else:
            continue
        if changed is None:
            changed = dict(params)
        changed[name] = replacement
    return changed, None


def _table_name(region: str, value: Any) -> Any:
    prefix = f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/"
    if isinstance(value, str) and value.startswith(prefix) and "/" not in value[len(prefix) :]:
        return value[len(prefix) :]
    return value


def canonical_dynamodb(request: ApiRequest) -> dict[str, Any] | None:
    """Table ARNs as table names wherever DynamoDB accepts either; None when unchanged.

    Only the containers on the way to a renamed table are copied: items stay shared.
    """
    region, original = request.region, request.params
    params = dict(original)
    for field in ("TableName", "TargetTableName"):
        if field in params:
            params[field] = _table_name(region, params[field])
    if "SourceTableArn" in params and "SourceTableName" not in params:
        params["SourceTableName"] = _table_name(region, params.pop("SourceTableArn"))
    items = params.get("RequestItems")
    if isinstance(items, dict):
        params["RequestItems"] = {_table_name(region, k): v for k, v in items.items()}
    entries = params.get("TransactItems")
    if isinstance(entries, list):
        params["TransactItems"] = [_transact_entry(region, entry) for entry in entries]
    return None if params == original else params


def _transact_entry(region: str, entry: Any) -> Any:
    if not isinstance(entry, dict):
        return entry
    renamed = {}
    for kind, op in entry.items():
        if isinstance(op, dict) and "TableName" in op:
            op = {**op, "TableName": _table_name(region, op["TableName"])}
        renamed[kind] = op
    return renamed


def canonical(request: ApiRequest) -> tuple[dict[str, Any] | None, ErrorResponse | None]:
    if request.protocol != "json":
        return None, None
    if request.service == "kms":
        return canonical_kms(request)
    if request.service == "dynamodb":
        return canonical_dynamodb(request), None
    return None, None
