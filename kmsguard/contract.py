"""Names shared by the program, the policy pack, the sandbox, the verifier and the tests."""

from __future__ import annotations

from typing import Final

PROJECT: Final = "kmsguard"

# Pulumi type token of the component (package:module:type).
COMPONENT_TYPE: Final = "kmsguard:index:KmsProtectedTable"


class ConfigKey:
    """Project config keys (namespace `kmsguard`), exactly as in Pulumi.yaml."""

    TABLE_NAME: Final = "tableName"
    TEST_USER_NAME: Final = "testUserName"
    GRANT_TEST_USER_KEY_ACCESS: Final = "grantTestUserKeyAccess"
    KEY_ADMINISTRATORS: Final = "keyAdministrators"
    KEY_USERS: Final = "keyUsers"
    ENABLE_ROOT_DELEGATION: Final = "enableRootDelegation"
    RESTRICT_KEY_USE_TO_DYNAMODB: Final = "restrictKeyUseToDynamoDB"
    KEY_DELETION_WINDOW_DAYS: Final = "keyDeletionWindowDays"
    KEY_ROTATION_PERIOD_DAYS: Final = "keyRotationPeriodDays"
    POINT_IN_TIME_RECOVERY: Final = "pointInTimeRecovery"
    DELETION_PROTECTION: Final = "deletionProtection"


CONFIG_KEYS: Final = (
    ConfigKey.TABLE_NAME,
    ConfigKey.TEST_USER_NAME,
    ConfigKey.GRANT_TEST_USER_KEY_ACCESS,
    ConfigKey.KEY_ADMINISTRATORS,
    ConfigKey.KEY_USERS,
    ConfigKey.ENABLE_ROOT_DELEGATION,
    ConfigKey.RESTRICT_KEY_USE_TO_DYNAMODB,
    ConfigKey.KEY_DELETION_WINDOW_DAYS,
    ConfigKey.KEY_ROTATION_PERIOD_DAYS,
    ConfigKey.POINT_IN_TIME_RECOVERY,
    ConfigKey.DELETION_PROTECTION,
)


class Output:
    """Stack output names. The first ten are required of every stack; the rest feed the verifier."""

    TABLE_NAME: Final = "tableName"
    TABLE_ARN: Final = "tableArn"
    KEY_ID: Final = "keyId"
    KEY_ARN: Final = "keyArn"
    KEY_ALIAS: Final = "keyAlias"
    TEST_USER_NAME: Final = "testUserName"
    TEST_USER_ARN: Final = "testUserArn"
    KEY_ADMINISTRATOR_ARNS: Final = "keyAdministratorArns"
    KEY_USER_ARNS: Final = "keyUserArns"
    ACCESS_EXPECTATIONS: Final = "accessExpectations"
    # Declared facts the verifier compares with what is deployed.
    KEY_POLICY: Final = "keyPolicy"
    KEY_ROTATION_PERIOD_DAYS: Final = "keyRotationPeriodDays"
    KEY_DELETION_WINDOW_DAYS: Final = "keyDeletionWindowDays"
    REGION: Final = "region"
    ACCOUNT_ID: Final = "accountId"


REQUIRED_OUTPUTS: Final = (
    Output.TABLE_NAME,
    Output.TABLE_ARN,
    Output.KEY_ID,
    Output.KEY_ARN,
    Output.KEY_ALIAS,
    Output.TEST_USER_NAME,
    Output.TEST_USER_ARN,
    Output.KEY_ADMINISTRATOR_ARNS,
    Output.KEY_USER_ARNS,
    Output.ACCESS_EXPECTATIONS,
)


class Expect:
    """Values of `expect` in an access expectation."""

    ALLOW: Final = "allow"
    DENY: Final = "deny"


class AwsType:
    """Pulumi type tokens of the AWS resources the program registers."""

    KMS_KEY: Final = "aws:kms/key:Key"
    KMS_ALIAS: Final = "aws:kms/alias:Alias"
    KMS_KEY_POLICY: Final = "aws:kms/keyPolicy:KeyPolicy"
    KMS_GRANT: Final = "aws:kms/grant:Grant"
    DYNAMODB_TABLE: Final = "aws:dynamodb/table:Table"
    DYNAMODB_TABLE_REPLICA: Final = "aws:dynamodb/tableReplica:TableReplica"
    DYNAMODB_RESOURCE_POLICY: Final = "aws:dynamodb/resourcePolicy:ResourcePolicy"
    IAM_USER: Final = "aws:iam/user:User"
    IAM_USER_POLICY: Final = "aws:iam/userPolicy:UserPolicy"
    IAM_USER_POLICY_ATTACHMENT: Final = "aws:iam/userPolicyAttachment:UserPolicyAttachment"
    IAM_ROLE: Final = "aws:iam/role:Role"
    IAM_ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
    IAM_ROLE_POLICY_ATTACHMENT: Final = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    IAM_GROUP: Final = "aws:iam/group:Group"
    IAM_GROUP_POLICY: Final = "aws:iam/groupPolicy:GroupPolicy"
    IAM_GROUP_POLICY_ATTACHMENT: Final = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
    IAM_GROUP_MEMBERSHIP: Final = "aws:iam/groupMembership:GroupMembership"
    IAM_USER_GROUP_MEMBERSHIP: Final = "aws:iam/userGroupMembership:UserGroupMembership"
    IAM_POLICY: Final = "aws:iam/policy:Policy"
    IAM_POLICY_ATTACHMENT: Final = "aws:iam/policyAttachment:PolicyAttachment"
    PROVIDER: Final = "pulumi:providers:aws"


class Invoke:
    """Pulumi function tokens the program calls (mocks and the sandbox monitor answer these)."""

    GET_CALLER_IDENTITY: Final = "aws:index/getCallerIdentity:getCallerIdentity"
    GET_REGION: Final = "aws:index/getRegion:getRegion"
    GET_PARTITION: Final = "aws:index/getPartition:getPartition"
    GET_SESSION_CONTEXT: Final = "aws:iam/getSessionContext:getSessionContext"


# The AWS managed policy the scenario gives the test user.
DYNAMODB_FULL_ACCESS_POLICY_ARN: Final = "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"


# Key policy statement ids: deterministic so drift can be reported statement by statement.
class Sid:
    ROOT: Final = "EnableRootAccountIamDelegation"
    ADMINS: Final = "AllowKeyAdministration"
    USERS: Final = "AllowKeyUseViaDynamoDB"
    USERS_UNRESTRICTED: Final = "AllowKeyUse"
    GRANTS: Final = "AllowGrantsForAwsResources"


# Key administrator actions: AWS's console defaults, no cryptographic actions, except that
# `kms:Create*` is narrowed to `kms:CreateAlias`: the wildcard also covers `kms:CreateGrant`,
# with which an administrator could grant itself Decrypt (separation of duties).
KEY_ADMIN_ACTIONS: Final = (
    "kms:CreateAlias",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
)

# Key user (usage) actions.
KEY_USER_ACTIONS: Final = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
)

# Grants for persistent AWS resources (DynamoDB creates one grant per table).
KEY_GRANT_ACTIONS: Final = ("kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant")

# Actions a table's reader or writer triggers on the key, through DynamoDB.
DYNAMODB_DATA_ACTIONS: Final = (
    "dynamodb:PutItem",
    "dynamodb:GetItem",
    "dynamodb:Scan",
)

# Condition keys.
VIA_SERVICE: Final = "kms:ViaService"
CALLER_ACCOUNT: Final = "kms:CallerAccount"
GRANT_IS_FOR_AWS_RESOURCE: Final = "kms:GrantIsForAWSResource"


def dynamodb_service_endpoint(region: str) -> str:
    """The `kms:ViaService` value DynamoDB presents in `region`."""
    return f"dynamodb.{region}.amazonaws.com"


def account_root_arn(account_id: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:root"


def iam_user_arn(account_id: str, user_name: str, partition: str = "aws", path: str = "/") -> str:
    return f"arn:{partition}:iam::{account_id}:user{path}{user_name}"
