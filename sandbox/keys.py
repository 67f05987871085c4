"""KMS keys as moto holds them: found by any identifier, with their policy, grants and state."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from moto.kms.models import kms_backends

from kmsguard.access.arn import parse_arn
from kmsguard.contract import (
    CALLER_ACCOUNT,
    VIA_SERVICE,
    account_root_arn,
    dynamodb_service_endpoint,
)
from sandbox import errors
from sandbox.canonical import Refused
from sandbox.settings import ACCOUNT_ID

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
        "Principal": {"AWS": account_root_arn(ACCOUNT_ID)},
        "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [usage, metadata]})


def find_key(region: str, any_id: str | None) -> Any | None:
    """moto's key for a key id, key ARN, alias name or alias ARN; None when unknown."""
    if not any_id or not isinstance(any_id, str):
        return None
    if any_id.startswith("arn:"):
        arn = parse_arn(any_id)
        here = ("aws", "kms", region, ACCOUNT_ID)
        if arn is None or (arn.partition, arn.service, arn.region, arn.account) != here:
            return None  # another region's or account's key (or no ARN at all) is not here
    kms = kms_backends[ACCOUNT_ID][region]
    name = kms.get_alias_name(any_id)
    if name.startswith("alias/"):
        for key in kms.keys.values():
            if name in key.aliases:
                return key
        return None
    return kms.keys.get(kms.get_key_id(any_id))


def key_policy(key: Any, region: str) -> str:
    """The key's own policy document: never derived from its alias names."""
    return str(key.policy or "")


def mark_aws_managed_keys() -> None:
    """The key moto creates for `alias/aws/dynamodb` is AWS managed, with AWS's policy."""
    from moto.dynamodb.models.table import Table

    default_key = Table._get_default_encryption_key

    def aws_managed(self: Any, account_id: str, region: str) -> str:
        arn = str(default_key(self, account_id, region))
        parsed = parse_arn(arn)
        key_id = parsed.resource_path if parsed is not None and parsed.is_key else arn
        key = kms_backends[account_id][region].keys.get(key_id)
        if key is not None and key.key_manager != "AWS":
            key.key_manager = "AWS"
            key.policy = aws_managed_key_policy(region)
        return arn

    Table._get_default_encryption_key = aws_managed  # type: ignore[method-assign]


def kms_refusal(code: str, message: str) -> Refused:
    return Refused(errors.json_error("kms", code, message))


def key_from_ciphertext(region: str, blob: Any) -> Any:
    """The key that encrypted a ciphertext, read from the ciphertext as moto reads it."""
    from moto.kms.utils import _deserialize_ciphertext_blob

    if not isinstance(blob, str):
        raise kms_refusal("SerializationException", "CiphertextBlob must be a base64 string.")
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        raise kms_refusal("SerializationException", "CiphertextBlob is not valid base64.") from None
    try:
        key_id = _deserialize_ciphertext_blob(raw).key_id
    except Exception:  # struct and UTF-8 errors: not a ciphertext of this KMS
        key_id = None
    key = kms_backends[ACCOUNT_ID][region].keys.get(key_id) if key_id else None
    if key is None:
        raise kms_refusal(
            "InvalidCiphertextException",
            "The ciphertext is invalid, or not encrypted under a key of this account and region.",
        )
    return key


def key_grants(key: Any) -> tuple[dict[str, Any], ...]:
    """The key's grants as ListGrants shows them."""
    out = []
    for grant in getattr(key, "grants", {}).values():
        doc = {k: v for k, v in grant.to_json().items() if v not in (None, {}, "")}
        out.append(doc)
    return tuple(out)
