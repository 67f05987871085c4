"""KmsProtectedTable: a customer managed key, its alias, a table encrypted with it, a test user."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from kmsguard.contract import COMPONENT_TYPE, DYNAMODB_FULL_ACCESS_POLICY_ARN, PROJECT
from kmsguard.plan import Plan


@dataclass(frozen=True)
class KmsProtectedTableArgs:
    table_name: str
    test_user_name: str
    key_policy: dict[str, Any]
    key_deletion_window_days: int = 30
    key_rotation_period_days: int = 365
    point_in_time_recovery: bool = True
    deletion_protection: bool = False
    tags: dict[str, str] = field(default_factory=lambda: {"project": PROJECT})

    @classmethod
    def from_plan(cls, plan: Plan) -> KmsProtectedTableArgs:
        s = plan.settings
        return cls(
            table_name=s.table_name,
            test_user_name=s.test_user_name,
            key_policy=plan.key_policy,
            key_deletion_window_days=s.key_deletion_window_days,
            key_rotation_period_days=s.key_rotation_period_days,
            point_in_time_recovery=s.point_in_time_recovery,
            deletion_protection=s.deletion_protection,
        )


class KmsProtectedTable(pulumi.ComponentResource):
    """The scenario's resources as one reusable unit.

    The key policy is written inline on the key (`policy`), not as a separate
    `aws.kms.KeyPolicy`: the key then never exists, even for a moment, with AWS's default
    policy; a policy change is an in-place update of the same key; and one resource carries
    the whole protection, which is what the guardrails and the verifier inspect. Using both
    forms at once would make the two fight over the same document on every update.
    """

    key: aws.kms.Key
    alias: aws.kms.Alias
    table: aws.dynamodb.Table
    test_user: aws.iam.User

    def __init__(
        self, name: str, args: KmsProtectedTableArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.test_user = aws.iam.User(
            f"{name}-test-user",
            name=args.test_user_name,
            # The verifier adds short-lived access keys; they must never block a destroy.
            force_destroy=True,
            tags=args.tags,
            opts=child,
        )
        self.test_user_dynamodb_access = aws.iam.UserPolicyAttachment(
            f"{name}-test-user-dynamodb",
            user=self.test_user.name,
            policy_arn=DYNAMODB_FULL_ACCESS_POLICY_ARN,
            opts=child,
        )
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"Customer managed key for DynamoDB table {args.table_name}",
            key_usage="ENCRYPT_DECRYPT",
            customer_master_key_spec="SYMMETRIC_DEFAULT",
            is_enabled=True,
            enable_key_rotation=True,
            rotation_period_in_days=args.key_rotation_period_days,
            deletion_window_in_days=args.key_deletion_window_days,
            policy=json.dumps(args.key_policy),
            bypass_policy_lockout_safety_check=False,
            tags=args.tags,
            # The policy may name the test user, which must exist before KMS accepts it.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.test_user]),
        )
        self.alias = aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{args.table_name}",
            target_key_id=self.key.key_id,
            opts=child,
        )
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            name=args.table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key="id",
            attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=self.key.arn
            ),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(
                enabled=args.point_in_time_recovery
            ),
            deletion_protection_enabled=args.deletion_protection,
            tags=args.tags,
            opts=child,
        )
        self.register_outputs(
            {
                "tableArn": self.table.arn,
                "keyArn": self.key.arn,
                "keyAlias": self.alias.name,
                "testUserArn": self.test_user.arn,
            }
        )
