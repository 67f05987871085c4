"""The context DynamoDB presents to KMS: the service, the caller's account, the table's context."""

from __future__ import annotations

from pathlib import Path

from kmsguard.access import evaluate, parse_grant
from kmsguard.access.dynamodb_context import (
    SUBSCRIBER_ID,
    TABLE_NAME,
    decrypt_context,
    encryption_context,
    via_dynamodb,
)
from tests.access.docs import row

USER = "arn:aws:iam::111122223333:user/reader"
KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_a_read_presents_the_service_the_account_and_the_tables_context() -> None:
    row("readers-decrypt-request")
    assert decrypt_context("eu-west-1", "orders", "111122223333") == {
        "kms:ViaService": "dynamodb.eu-west-1.amazonaws.com",
        "kms:CallerAccount": "111122223333",
        "kms:EncryptionContext:aws:dynamodb:tableName": "orders",
        "kms:EncryptionContext:aws:dynamodb:subscriberId": "111122223333",
    }
    assert via_dynamodb("eu-west-1", "111122223333") == {
        "kms:ViaService": "dynamodb.eu-west-1.amazonaws.com",
        "kms:CallerAccount": "111122223333",
    }


def test_an_unknown_account_is_left_out_never_written_as_empty() -> None:
    row("ddb-context-unknown-account")
    assert decrypt_context("eu-west-1", "orders", None) == {
        "kms:ViaService": "dynamodb.eu-west-1.amazonaws.com",
        "kms:EncryptionContext:aws:dynamodb:tableName": "orders",
    }
    assert encryption_context("orders", "") == {"aws:dynamodb:tableName": "orders"}


def test_dynamodbs_own_grant_constraints_hold_for_the_context_it_presents() -> None:
    grant = parse_grant(
        {
            "GrantId": "g",
            "GranteePrincipal": USER,
            "Operations": ["Decrypt"],
            "Constraints": {
                "EncryptionContextSubset": encryption_context("orders", "111122223333")
            },
        },
        "grant",
    )
    for table, allowed in (("orders", True), ("other", False)):
        decision = evaluate(
            USER,
            "kms:Decrypt",
            KEY,
            identity_policies=[],
            resource_policy=None,
            context=decrypt_context("eu-west-1", table, "111122223333"),
            grants=[grant],
        )
        assert decision.allowed is allowed


def test_no_other_module_spells_dynamodbs_encryption_context() -> None:
    # Built once: a second copy is how the judges came to disagree on it.
    root = Path(__file__).resolve().parents[2]
    product = ("kmsguard", "policies", "sandbox", "verification", "demo")
    spelled = sorted(
        str(path.relative_to(root))
        for package in product
        for path in (root / package).rglob("*.py")
        if TABLE_NAME in (text := path.read_text()) or SUBSCRIBER_ID in text
    )
    assert spelled == ["kmsguard/access/dynamodb_context.py"]
