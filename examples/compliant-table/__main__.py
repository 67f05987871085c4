"""A table encrypted with a customer managed key: rotation on, a key policy that keeps the
account root (so IAM decides) and names one administrator without cryptographic actions."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
account = aws.get_caller_identity().account_id
partition = aws.get_partition().partition

policy = aws.iam.get_policy_document(
    statements=[
        aws.iam.GetPolicyDocumentStatementArgs(
            sid="EnableRootAccountIamDelegation",
            principals=[
                aws.iam.GetPolicyDocumentStatementPrincipalArgs(
                    type="AWS", identifiers=[f"arn:{partition}:iam::{account}:root"]
                )
            ],
            actions=["kms:*"],
            resources=["*"],
        ),
    ]
)

key = aws.kms.Key(
    "orders-key",
    description="orders table",
    enable_key_rotation=True,
    deletion_window_in_days=30,
    policy=policy.json,
)
aws.kms.Alias("orders-key-alias", name="alias/orders", target_key_id=key.key_id)

table = aws.dynamodb.Table(
    "orders",
    name=config.require("tableName"),
    billing_mode="PAY_PER_REQUEST",
    hash_key="id",
    attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
    server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
        enabled=True, kms_key_arn=key.arn
    ),
    point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
    deletion_protection_enabled=True,
)

pulumi.export("tableName", table.name)
pulumi.export("keyArn", key.arn)
