"""Resolve settings and the deploying identity into who holds which role, the key policy and the
access expectations the verifier must confirm (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kmsguard.contract import DYNAMODB_DATA_ACTIONS, PROJECT, Expect, iam_user_arn
from kmsguard.keypolicy import KeyPolicyRoles, build_key_policy
from kmsguard.settings import Settings, check_test_user_not_in_key_users


@dataclass(frozen=True)
class Identity:
    """Where and as whom the program deploys. `deployer_arn` is an IAM ARN (role, not session)."""

    account_id: str
    region: str
    deployer_arn: str
    partition: str = "aws"


@dataclass(frozen=True)
class Plan:
    settings: Settings
    identity: Identity
    test_user_arn: str
    administrators: tuple[str, ...]
    users: tuple[str, ...]
    key_policy: dict[str, Any]
    expectations: tuple[dict[str, str], ...]


def access_expectations(
    test_user_arn: str, *, granted: bool, restricted: bool, root_delegation: bool
) -> tuple[dict[str, str], ...]:
    """What the verifier must observe for the test user (which holds AmazonDynamoDBFullAccess).

    Data actions need kms:Decrypt through DynamoDB, so they follow the grant. A direct
    kms:Decrypt also needs the grant, and is refused by the ViaService condition when
    restricted. kms:DescribeKey comes from the managed policy, which only counts when the key
    policy delegates to IAM, or when the user is a key user.
    """

    def row(action: str, allowed: bool) -> dict[str, str]:
        return {
            "principal": test_user_arn,
            "action": action,
            "expect": Expect.ALLOW if allowed else Expect.DENY,
        }

    rows = [row("dynamodb:DescribeTable", True)]
    rows += [row(action, granted) for action in DYNAMODB_DATA_ACTIONS]
    rows.append(row("kms:DescribeKey", granted or root_delegation))
    rows.append(row("kms:Decrypt", granted and not restricted))
    return tuple(rows)


def make_plan(settings: Settings, identity: Identity, namespace: str | None = PROJECT) -> Plan:
    """Raises ConfigError when the settings contradict the resolved identity (keys named in
    `namespace`, as parse_settings does)."""
    # The ARN is derived rather than read from the created user so the key policy is known at
    # preview time, which lets the policy pack judge it before anything is deployed.
    test_user_arn = iam_user_arn(identity.account_id, settings.test_user_name, identity.partition)
    check_test_user_not_in_key_users(settings, test_user_arn, namespace)
    administrators = (
        settings.key_administrators
        if settings.key_administrators is not None
        else (identity.deployer_arn,)
    )
    users = tuple(sorted(set(settings.key_users)))
    if settings.grant_test_user_key_access:
        users = tuple(sorted({*users, test_user_arn}))
    policy = build_key_policy(
        KeyPolicyRoles(
            account_id=identity.account_id,
            region=identity.region,
            administrators=administrators,
            users=users,
            enable_root_delegation=settings.enable_root_delegation,
            restrict_to_dynamodb=settings.restrict_key_use_to_dynamodb,
            partition=identity.partition,
        )
    )
    return Plan(
        settings=settings,
        identity=identity,
        test_user_arn=test_user_arn,
        administrators=tuple(sorted(set(administrators))),
        users=users,
        key_policy=policy,
        expectations=access_expectations(
            test_user_arn,
            granted=settings.grant_test_user_key_access,
            restricted=settings.restrict_key_use_to_dynamodb,
            root_delegation=settings.enable_root_delegation,
        ),
    )
