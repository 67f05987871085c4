"""A table on the AWS managed key: every principal in the account with DynamoDB access can
read it, and its key policy cannot be changed."""

import pulumi
import pulumi_aws as aws

table = aws.dynamodb.Table(
    "sessions",
    billing_mode="PAY_PER_REQUEST",
    hash_key="id",
    attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
    server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
        enabled=True, kms_key_arn="alias/aws/dynamodb"
    ),
    point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
    deletion_protection_enabled=True,
)

pulumi.export("tableName", table.name)
