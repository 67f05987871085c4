"""One real call per action, made as the principal, classified as allow, deny or unverifiable."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmsguard.aws_errors import error_code, error_message

ALLOW = "allow"
DENY = "deny"  # refused, and the refusal names a kms: action (the key said no)
DENY_OTHER = "deny-other"  # refused, but not for a KMS reason (e.g. IAM on dynamodb:DescribeTable)
ERROR = "error"  # anything else: could not verify

_DENIED_CODES = frozenset(
    {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "KMSAccessDeniedException"}
)
# DynamoDB also reports a refused key as these (key disabled, or its grant/decrypt denied).
_KMS_FAILURE_CODES = frozenset({"KMSAccessDeniedException", "KMSDisabledException"})
_KMS_ACTION = re.compile(r"\bkms:[A-Za-z*]+")
_ANY_ACTION = re.compile(r"\b[a-z0-9-]+:[A-Z][A-Za-z*]+")


@dataclass(frozen=True)
class Observation:
    """What one call showed. Equality ignores `detail`, so request ids don't break a streak."""

    kind: str
    code: str = ""
    detail: str = field(default="", compare=False)

    def describe(self) -> str:
        if self.kind == ALLOW:
            return "allow"
        if self.kind == DENY:
            return f"deny ({self.code})"
        if self.kind == DENY_OTHER:
            return f"deny, not by the key ({self.code})"
        return f"error ({self.code})"


@dataclass(frozen=True)
class ProbeTarget:
    """What the probes act on. `item_key` is the unique probe item's primary key (typed)."""

    table_name: str
    key_arn: str
    item_key: dict[str, Any]
    ciphertext: bytes | None
    encryption_context: dict[str, str]


def classify(exc: Exception) -> Observation:
    """Map an exception from a probe call to an observation (no secrets: messages are AWS's)."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = " ".join(error_message(exc).split())[:300]
        kms = _KMS_ACTION.search(message)
        if code in _KMS_FAILURE_CODES:
            return Observation(DENY, kms.group(0) if kms else code, message)
        if code in _DENIED_CODES:
            if kms:
                return Observation(DENY, kms.group(0), message)
            named = _ANY_ACTION.search(message)
            return Observation(DENY_OTHER, named.group(0) if named else code, message)
        return Observation(ERROR, code, message)
    if isinstance(exc, BotoCoreError):
        return Observation(ERROR, type(exc).__name__, str(exc)[:300])
    raise exc


def _call(action: Callable[[], object]) -> Observation:
    try:
        action()
    except (ClientError, BotoCoreError) as exc:
        return classify(exc)
    return Observation(ALLOW)


def probe(action: str, dynamodb: Any, kms: Any, target: ProbeTarget) -> Observation:
    """Make the real call for `action`. Results are discarded: nothing read is ever shown."""
    if action == "dynamodb:DescribeTable":
        return _call(lambda: dynamodb.describe_table(TableName=target.table_name))
    if action == "dynamodb:PutItem":
        return _call(lambda: dynamodb.put_item(TableName=target.table_name, Item=target.item_key))
    if action == "dynamodb:GetItem":
        # Only the probe item's own key, so no existing item can ever be returned.
        return _call(
            lambda: dynamodb.get_item(
                TableName=target.table_name, Key=target.item_key, ConsistentRead=True
            )
        )
    if action == "dynamodb:Scan":
        # COUNT returns no attributes at all, and one item is enough to need the table key.
        return _call(lambda: dynamodb.scan(TableName=target.table_name, Select="COUNT", Limit=1))
    if action == "kms:DescribeKey":
        return _call(lambda: kms.describe_key(KeyId=target.key_arn))
    if action == "kms:Decrypt":
        if target.ciphertext is None:
            return Observation(ERROR, "NoCiphertext", "the admin could not encrypt a test blob")
        return _call(
            lambda: kms.decrypt(
                CiphertextBlob=target.ciphertext,
                KeyId=target.key_arn,
                EncryptionContext=target.encryption_context,
            )
        )
    raise ValueError(f"no probe for action {action!r}")
