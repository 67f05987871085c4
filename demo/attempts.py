"""Weakening changes a teammate might make, each with the rule expected to block it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi

from kmsguard.contract import AwsType, ConfigKey, Output, account_root_arn

# A code change is a program: the kmsguard program under a stack transformation, or with a
# resource added after it.


def _public_principal(args: pulumi.ResourceTransformationArgs) -> Any:
    if args.type_ != AwsType.KMS_KEY:
        return None
    policy = json.loads(str(args.props["policy"]))
    policy["Statement"].append(
        {
            "Sid": "LetEveryoneDecrypt",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    return pulumi.ResourceTransformationResult(
        {**args.props, "policy": json.dumps(policy)}, args.opts
    )


def _aws_managed_key(args: pulumi.ResourceTransformationArgs) -> Any:
    if args.type_ != AwsType.DYNAMODB_TABLE:
        return None
    # enabled without a key ARN: DynamoDB falls back to the AWS managed alias/aws/dynamodb key.
    sse = {"enabled": True}
    return pulumi.ResourceTransformationResult(
        {**args.props, "server_side_encryption": sse}, args.opts
    )


def _with_transformation(
    transformation: Callable[[pulumi.ResourceTransformationArgs], Any],
) -> Callable[[], None]:
    def program() -> None:
        from kmsguard.program import main

        pulumi.runtime.register_stack_transformation(transformation)
        main()

    return program


# An account outside the stack that no setting trusts (AWS's documentation example account).
OTHER_ACCOUNT = "111122223333"
SHARED_TABLE_POLICY = "kmsguard-table-shared"


def sharing_policy(table_arn: str) -> str:
    """A table policy letting every principal of OTHER_ACCOUNT read the table's items."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ShareWithPartnerAccount",
                    "Effect": "Allow",
                    "Principal": {"AWS": account_root_arn(OTHER_ACCOUNT)},
                    "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"],
                    "Resource": table_arn,
                }
            ],
        }
    )


def share_table_with_another_account() -> None:
    """The program as it is, plus a table policy on the table's ARN for OTHER_ACCOUNT."""
    import pulumi_aws as aws

    from kmsguard.program import build

    outputs = build()
    for name, value in outputs.items():
        pulumi.export(name, value)
    table_arn = pulumi.Output.from_input(outputs[Output.TABLE_ARN])
    aws.dynamodb.ResourcePolicy(
        SHARED_TABLE_POLICY, resource_arn=table_arn, policy=table_arn.apply(sharing_policy)
    )


# (title, config change, program change, the rule expected to block it)
ATTEMPTS: list[tuple[str, dict[str, Any], Callable[[], None] | None, str]] = [
    (
        "rotate the key only every 730 days (config)",
        {ConfigKey.KEY_ROTATION_PERIOD_DAYS: 730},
        None,
        "kms-key-rotation-enabled",
    ),
    (
        "let anyone decrypt: Principal {'AWS': '*'} (code)",
        {},
        _with_transformation(_public_principal),
        "kms-key-policy-no-public-principal",
    ),
    (
        "encrypt the table with the AWS managed key alias/aws/dynamodb (code)",
        {},
        _with_transformation(_aws_managed_key),
        "dynamodb-table-customer-managed-key",
    ),
    (
        f"share the table with account {OTHER_ACCOUNT} in a table policy (code)",
        {},
        share_table_with_another_account,
        "dynamodb-table-readers-match-declared",
    ),
]
