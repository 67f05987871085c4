"""A key policy that is public: its second statement lets any principal decrypt."""

import pulumi
import pulumi_aws as aws

account = aws.get_caller_identity().account_id

policy = aws.iam.get_policy_document(
    statements=[
        aws.iam.GetPolicyDocumentStatementArgs(
            sid="EnableRootAccountIamDelegation",
            principals=[
                aws.iam.GetPolicyDocumentStatementPrincipalArgs(
                    type="AWS", identifiers=[f"arn:aws:iam::{account}:root"]
                )
            ],
            actions=["kms:*"],
            resources=["*"],
        ),
        aws.iam.GetPolicyDocumentStatementArgs(
            sid="LetPartnersDecrypt",
            principals=[
                aws.iam.GetPolicyDocumentStatementPrincipalArgs(type="*", identifiers=["*"])
            ],
            actions=["kms:Decrypt", "kms:DescribeKey"],
            resources=["*"],
        ),
    ]
)

key = aws.kms.Key(
    "shared",
    description="shared with partners",
    enable_key_rotation=True,
    deletion_window_in_days=30,
    policy=policy.json,
)

pulumi.export("keyArn", key.arn)
