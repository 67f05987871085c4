"""Lookups of existing infrastructure (a VPC, an SSM parameter) that only a cloud can answer;
an offline preview answers them as unknown and says so."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
token = config.require_secret("apiToken")

vpc = aws.ec2.get_vpc(default=True)  # plain invoke: every field unknown
owner = aws.ssm.get_parameter_output(name="/inventory/owner")  # output invoke: unknown

key = aws.kms.Key(
    "inventory-key",
    description="inventory table",
    enable_key_rotation=True,
    deletion_window_in_days=30,
    tags={"vpc": vpc.id, "owner": owner.value},
)

table = aws.dynamodb.Table(
    "inventory",
    billing_mode="PAY_PER_REQUEST",
    hash_key="sku",
    attributes=[aws.dynamodb.TableAttributeArgs(name="sku", type="S")],
    server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
        enabled=True, kms_key_arn=key.arn
    ),
    point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
    deletion_protection_enabled=True,
    tags={"vpc": vpc.id},
)

pulumi.export("tableName", table.name)
pulumi.export("apiToken", token)
