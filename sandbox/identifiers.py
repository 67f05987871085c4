"""Identifier forms as AWS accepts them, rewritten to the one form moto's backends understand."""

from __future__ import annotations

import re
from typing import Any

from kmsguard.access.arn import alias_arn, is_alias_reference, key_arn, table_arn, table_path
from kmsguard.access.subject import Subject
from sandbox import errors, streams
from sandbox.canonical import Refused
from sandbox.check import user_name
from sandbox.errors import ErrorResponse
from sandbox.keys import find_key
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
_KEY_ID = re.compile(r"(mrk-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def _not_found(message: str) -> ErrorResponse:
    return errors.json_error("kms", "NotFoundException", message)


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
        if is_alias_reference(value) and request.action not in ALIAS_ACCEPTING:
            return None, _not_found(f"Invalid keyId {value}")
        if value.startswith("arn:"):
            key = find_key(request.region, value)
            if key is None:
                kind = "Alias" if is_alias_reference(value) else "Key"
                tail = "is not found." if kind == "Alias" else "does not exist"
                return None, _not_found(f"{kind} '{value}' {tail}")
            replacement = str(key.id)
        elif is_alias_reference(value):
            key = find_key(request.region, value)
            if key is None:
                arn = alias_arn(ACCOUNT_ID, value, request.region)
                return None, _not_found(f"Alias {arn} is not found.")
            replacement = str(key.id)
        elif not _KEY_ID.fullmatch(value):
            return None, _not_found(f"Invalid keyId {value}")
        elif find_key(request.region, value) is None:
            # Deny by default: a key the authorizer cannot find is not handed to moto.
            arn = key_arn(ACCOUNT_ID, value, request.region)
            return None, _not_found(f"Key '{arn}' does not exist")
        else:
            continue
        if changed is None:
            changed = dict(params)
        changed[name] = replacement
    return changed, None


# DynamoDB table names (CreateTable's pattern and lengths); an ARN of one is up to 1024.
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,255}")
# Parameters naming one table, by name or ARN; those moto looks up by ARN keep the ARN form.
_TABLE_FIELDS = ("TableName", "SourceTableName")
_ARN_FIELDS = ("TableArn", "ResourceArn")
_SSE_FIELDS = ("SSESpecification", "SSESpecificationOverride")


def _ddb_refusal(code: str, message: str) -> Refused:
    return Refused(errors.json_error("dynamodb", code, message))


def table_name(region: str, value: Any, field: str, *, arn_allowed: bool = True) -> str:
    """The table a name or ARN parameter names, as moto looks it up; raise Refused."""
    if not isinstance(value, str):
        raise _ddb_refusal("ValidationException", f"{field} must be a string.")
    name = value
    if value.startswith("arn:"):
        if not arn_allowed:
            raise _ddb_refusal("ValidationException", f"{field} takes a table name, not an ARN.")
        path = table_path(value, ACCOUNT_ID, region)
        if path is None:
            # Another region's or account's table: not in this sandbox.
            raise _ddb_refusal(
                "ResourceNotFoundException", f"Requested resource not found: {value[:128]}"
            )
        name = path
    if not _TABLE_NAME.fullmatch(name):
        raise _ddb_refusal(
            "ValidationException",
            f"{field} {value[:128]!r} is not a table name or table ARN: a name is 1 to 255 of "
            "A-Z a-z 0-9 _ . - (in an ARN: arn:aws:dynamodb:<region>:<account>:table/<name>).",
        )
    return name


def _sse(region: str, spec: Any) -> Any:
    """A KMSMasterKeyId in any of its forms becomes the key's ARN: a table is bound to a key,
    never to an alias that may later point elsewhere."""
    if not isinstance(spec, dict) or spec.get("KMSMasterKeyId") in (None, ""):
        return spec
    value = spec["KMSMasterKeyId"]
    key = find_key(region, value) if isinstance(value, str) else None
    if key is None:
        raise _ddb_refusal(
            "ValidationException", f"KMSMasterKeyId {str(value)[:128]!r}: no such KMS key."
        )
    return {**spec, "KMSMasterKeyId": str(key.arn)}


def canonical_dynamodb(request: ApiRequest) -> dict[str, Any] | None:
    """Every table a DynamoDB request names, named as moto looks it up; None when unchanged.

    Raise Refused for a parameter that names no table of this sandbox, or two sources at once.
    Only the containers on the way to a renamed table are copied: items stay shared.
    """
    region, original = request.region, request.params
    params = dict(original)
    if "SourceTableArn" in params:
        if "SourceTableName" in params:
            raise _ddb_refusal(
                "ValidationException",
                "Give either SourceTableArn or SourceTableName, not both.",
            )
        params["SourceTableName"] = table_name(
            region, params.pop("SourceTableArn"), "SourceTableArn"
        )
    for field in _TABLE_FIELDS:
        if field in params:
            params[field] = table_name(region, params[field], field)
    if "TargetTableName" in params:
        params["TargetTableName"] = table_name(
            region, params["TargetTableName"], "TargetTableName", arn_allowed=False
        )
    for field in _ARN_FIELDS:
        if field in params:
            # A stream holds a policy of its own; any other operation takes a table ARN only.
            named = streams.policy_resource(request) if field == "ResourceArn" else None
            if named is None:
                named = table_arn(ACCOUNT_ID, table_name(region, params[field], field), region)
            params[field] = named
    for field in _SSE_FIELDS:
        if field in params:
            params[field] = _sse(region, params[field])
    creation = params.get("TableCreationParameters")
    if isinstance(creation, dict):
        creation = dict(creation)
        if "TableName" in creation:
            creation["TableName"] = table_name(
                region, creation["TableName"], "TableName", arn_allowed=False
            )
        if "SSESpecification" in creation:
            creation["SSESpecification"] = _sse(region, creation["SSESpecification"])
        params["TableCreationParameters"] = creation
    items = params.get("RequestItems")
    if isinstance(items, dict):
        renamed = {}
        for name, value in items.items():
            canonical_name = table_name(region, name, "RequestItems")
            if canonical_name in renamed:
                raise _ddb_refusal(
                    "ValidationException", f"RequestItems names table {canonical_name} twice."
                )
            renamed[canonical_name] = value
        params["RequestItems"] = renamed
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
            op = {**op, "TableName": table_name(region, op["TableName"], "TableName")}
        renamed[kind] = op
    return renamed


# IAM operations that, without UserName, act on the user who signed the request ("If you do
# not specify a user name, IAM determines the user name implicitly based on the Amazon Web
# Services access key ID signing the request"). moto instead looks the user up from the
# AccessKeyId parameter for some of them, which may be anyone's.
IAM_SELF_ACTIONS = frozenset(
    {"GetUser", "ListAccessKeys", "CreateAccessKey", "DeleteAccessKey", "UpdateAccessKey"}
)


def canonical_iam(request: ApiRequest, subject: Subject) -> dict[str, Any] | None:
    """The implicit UserName made explicit, so moto acts on the user the authorizer checked."""
    if request.action not in IAM_SELF_ACTIONS or request.params.get("UserName"):
        return None
    if subject.kind == "user":
        return {**request.params, "UserName": user_name(subject)}
    if subject.kind == "assumed-role" and request.action != "GetUser":
        message = f"{request.action} from a role session must name the user (UserName)."
        raise Refused(errors.query_error("iam", "ValidationError", message, 400))
    return None
