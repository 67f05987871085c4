"""A component of this program: a table with its own customer managed key."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


class EncryptedTable(pulumi.ComponentResource):
    def __init__(
        self, name: str, *, rotate_key: bool, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("acme:storage:EncryptedTable", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{name} table",
            enable_key_rotation=rotate_key,
            deletion_window_in_days=30,
            opts=child,
        )
        self.table = aws.dynamodb.Table(
            name,
            billing_mode="PAY_PER_REQUEST",
            hash_key="id",
            attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=self.key.arn
            ),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            deletion_protection_enabled=True,
            opts=child,
        )
        self.register_outputs({"tableName": self.table.name, "keyArn": self.key.arn})
