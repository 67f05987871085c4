"""The request context DynamoDB presents to KMS when it uses a table's key for a caller."""

from __future__ import annotations

from kmsguard.contract import CALLER_ACCOUNT, VIA_SERVICE, dynamodb_service_endpoint

# The encryption context DynamoDB binds a table's data keys to ("How Amazon DynamoDB uses AWS
# KMS"): the table's name and the account, as keys of `kms:EncryptionContext:`.
TABLE_NAME = "aws:dynamodb:tableName"
SUBSCRIBER_ID = "aws:dynamodb:subscriberId"
ENCRYPTION_CONTEXT = "kms:EncryptionContext:"


def encryption_context(table_name: str, caller_account: str | None) -> dict[str, str]:
    """The encryption context of the table's data keys, as a grant's constraints read it.

    The subscriber id is the caller's account (docs/semantics.md `readers-decrypt-request`);
    when the account is not known it is left out, never written as "".
    """
    out = {TABLE_NAME: table_name}
    if caller_account:
        out[SUBSCRIBER_ID] = caller_account
    return out


def via_dynamodb(region: str, caller_account: str | None) -> dict[str, str]:
    """`kms:ViaService` and `kms:CallerAccount` of any KMS call DynamoDB makes for a caller
    (the grant it creates on a new table's key, a data key's decrypt)."""
    out = {VIA_SERVICE: dynamodb_service_endpoint(region)}
    if caller_account:
        out[CALLER_ACCOUNT] = caller_account
    return out


def decrypt_context(region: str, table_name: str, caller_account: str | None) -> dict[str, str]:
    """The condition keys of the kms:Decrypt DynamoDB calls when the caller reads the table's
    items: the service, the caller's account and the encryption context."""
    ec = encryption_context(table_name, caller_account)
    return {
        **via_dynamodb(region, caller_account),
        **{ENCRYPTION_CONTEXT + k: v for k, v in ec.items()},
    }
