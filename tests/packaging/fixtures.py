"""Rule fixtures as Pulumi programs: each breaks the named rules, so a pack that runs shows it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi_aws as aws

ACCOUNT = "123456789012"  # the account preview.mocks answers with


def _key(name: str, policy: dict[str, Any] | None = None, **over: Any) -> aws.kms.Key:
    props: dict[str, Any] = {
        "enable_key_rotation": True,
        "deletion_window_in_days": 30,
        "policy": json.dumps(policy) if policy is not None else None,
    }
    props.update(over)
    return aws.kms.Key(name, **{k: v for k, v in props.items() if v is not None})


def _table(name: str, kms_key_arn: Any, **over: Any) -> aws.dynamodb.Table:
    props: dict[str, Any] = {
        "hash_key": "id",
        "attributes": [aws.dynamodb.TableAttributeArgs(name="id", type="S")],
        "server_side_encryption": aws.dynamodb.TableServerSideEncryptionArgs(
            enabled=True, kms_key_arn=kms_key_arn
        ),
        "point_in_time_recovery": aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
        "deletion_protection_enabled": True,
    }
    props.update(over)
    return aws.dynamodb.Table(name, **props)


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    root = {
        "Sid": "Root",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return {"Version": "2012-10-17", "Statement": [root, *statements]}


def weak_key_settings() -> None:
    """Rotation off, shortest deletion window, a table without PITR or deletion protection."""
    key = _key("weak", enable_key_rotation=False, deletion_window_in_days=7)
    _table(
        "weak-table",
        key.arn,
        point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=False),
        deletion_protection_enabled=False,
    )


def aws_managed_and_asymmetric_keys() -> None:
    """One table on alias/aws/dynamodb, one on an asymmetric key."""
    _table("managed-table", "alias/aws/dynamodb")
    rsa = _key("rsa", customer_master_key_spec="RSA_2048", key_usage="SIGN_VERIFY")
    _table("rsa-table", rsa.arn)


def bad_key_policies() -> None:
    """An unknown action, a public principal, kms:* to a user, the lockout bypass."""
    _key(
        "typo",
        _policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/a"},
                "Action": "kms:Decryptt",
                "Resource": "*",
            }
        ),
    )
    _key(
        "public",
        _policy({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}),
    )
    _key(
        "star",
        _policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/a"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ),
    )
    _key("bypass", _policy(), bypass_policy_lockout_safety_check=True)


def decrypt_everything_through_iam() -> None:
    """A user whose identity policy allows kms:Decrypt on every key, next to a key and table."""
    key = _key("iam-key", _policy())
    _table("iam-table", key.arn)
    user = aws.iam.User("reader", name="reader")
    aws.iam.UserPolicy(
        "reader-decrypt",
        user=user.name,
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}],
            }
        ),
    )


FIXTURES: dict[str, Callable[[], None]] = {
    f.__name__: f
    for f in (
        weak_key_settings,
        aws_managed_and_asymmetric_keys,
        bad_key_policies,
        decrypt_everything_through_iam,
    )
}

# Every rule of the pack at the time these fixtures were written; each fires on some fixture.
RULES_FIRED = {
    "dynamodb-table-customer-managed-key",
    "kms-key-rotation-enabled",
    "kms-key-deletion-window",
    "kms-key-symmetric-for-tables",
    "kms-key-policy-valid",
    "kms-key-policy-no-public-principal",
    "kms-key-policy-least-privilege",
    "kms-key-policy-lockout-safe",
    "iam-policy-no-kms-decrypt-on-all-keys",
    "stack-key-access-matches-declared",
    "dynamodb-table-point-in-time-recovery",
    "dynamodb-table-deletion-protection",
}
