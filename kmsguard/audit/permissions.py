"""The read-only IAM policy the audit needs: every action it calls, nothing else."""

from __future__ import annotations

import json
from typing import Any

ACTIONS: tuple[str, ...] = (
    "dynamodb:DescribeContinuousBackups",
    "dynamodb:DescribeTable",
    "dynamodb:GetResourcePolicy",
    "dynamodb:ListTables",
    "dynamodb:ListTagsOfResource",
    "iam:GetAccountAuthorizationDetails",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeys",
    "sts:GetCallerIdentity",
)


def read_only_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "KmsguardAuditReadOnly",
                "Effect": "Allow",
                "Action": list(ACTIONS),
                "Resource": "*",
            }
        ],
    }


def read_only_policy_json() -> str:
    return json.dumps(read_only_policy(), indent=2)
