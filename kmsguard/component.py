"""KmsProtectedTable: a customer managed key, its alias, a table encrypted with it, a test user."""

# No `from __future__ import annotations`: the component provider reads these annotations at
# runtime to build the schema every Pulumi language's SDK is generated from.
import json
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi
from pulumi_aws import dynamodb, iam, kms
from pulumi_aws.get_caller_identity import get_caller_identity
from pulumi_aws.get_region import get_region

from kmsguard.access.arn import parse_arn
from kmsguard.contract import (
    COMPONENT_TYPE,
    DYNAMODB_FULL_ACCESS_POLICY_ARN,
    PROJECT,
    ConfigKey,
    Output,
)
from kmsguard.plan import Identity, Plan, make_plan
from kmsguard.settings import ConfigError, Settings, parse_settings

TAGS = {"project": PROJECT}


class KmsProtectedTableArgs(TypedDict):
    """The arguments of KmsProtectedTable: the kmsguard program's configuration keys.

    Plain values, never outputs of other resources: they are validated, and the key policy is
    rendered from them, before anything is registered, so that the policy pack can judge the
    key policy at preview time.
    """

    # The names are the configuration keys (camelCase) so that stack config, component inputs
    # in every language and error messages use one vocabulary.
    tableName: str
    """DynamoDB table name: 3-255 letters, digits, '_' or '-'. The key alias is alias/<tableName>."""  # noqa: E501
    testUserName: NotRequired[str]
    """IAM user given AmazonDynamoDBFullAccess and, only when granted, key use (default kms-test-user)."""  # noqa: E501
    grantTestUserKeyAccess: NotRequired[bool]
    """false (default): the test user is not in the key policy, so it is denied; true: it is a key user."""  # noqa: E501
    keyAdministrators: NotRequired[list[str]]
    """IAM role, user or account-root ARNs that administer the key (no cryptographic use). Default: the deploying identity (the role ARN for an assumed role)."""  # noqa: E501
    keyUsers: NotRequired[list[str]]
    """IAM role, user or account-root ARNs that may use the key (default none)."""
    enableRootDelegation: NotRequired[bool]
    """Key policy statement letting IAM policies of this account grant key use (default true)."""
    restrictKeyUseToDynamoDB: NotRequired[bool]
    """Key users only through DynamoDB in this account: kms:ViaService and kms:CallerAccount (default true)."""  # noqa: E501
    keyDeletionWindowDays: NotRequired[int]
    """Waiting period of a scheduled key deletion, 7-30 days (default 30)."""
    keyRotationPeriodDays: NotRequired[int]
    """Automatic key rotation period, 90-2560 days (default 365)."""
    pointInTimeRecovery: NotRequired[bool]
    """Table point-in-time recovery (default true)."""
    deletionProtection: NotRequired[bool]
    """Table deletion protection (default false)."""


def component_args(settings: Settings) -> KmsProtectedTableArgs:
    """The component arguments equivalent to validated program settings."""
    args: KmsProtectedTableArgs = {
        "tableName": settings.table_name,
        "testUserName": settings.test_user_name,
        "grantTestUserKeyAccess": settings.grant_test_user_key_access,
        "keyUsers": list(settings.key_users),
        "enableRootDelegation": settings.enable_root_delegation,
        "restrictKeyUseToDynamoDB": settings.restrict_key_use_to_dynamodb,
        "keyDeletionWindowDays": settings.key_deletion_window_days,
        "keyRotationPeriodDays": settings.key_rotation_period_days,
        "pointInTimeRecovery": settings.point_in_time_recovery,
        "deletionProtection": settings.deletion_protection,
    }
    if settings.key_administrators is not None:
        args[ConfigKey.KEY_ADMINISTRATORS] = list(settings.key_administrators)
    return args


def validate_args(args: Mapping[str, Any]) -> Settings:
    """The program's validation, naming the arguments; raises ConfigError (every problem)."""
    problems: list[str] = []
    keys: list[str] = []
    if args.get(ConfigKey.TABLE_NAME) is None:
        # A reusable component has no default table name: two instances would collide.
        problems.append(f"{ConfigKey.TABLE_NAME} is required: the DynamoDB table name")
        keys.append(ConfigKey.TABLE_NAME)
    try:
        settings = parse_settings(args, None)
    except ConfigError as err:
        problems += err.problems
        keys += err.keys
    if problems:
        raise ConfigError(problems, keys)
    return settings


def _invoke_options(opts: pulumi.ResourceOptions | None) -> pulumi.InvokeOptions | None:
    """Invokes go through the provider the component's children will use."""
    if opts is None:
        return None
    provider = opts.provider
    if provider is None and isinstance(opts.providers, Mapping):
        provider = opts.providers.get("aws")
    elif provider is None and isinstance(opts.providers, list):
        provider = next((p for p in opts.providers if getattr(p, "package", "") == "aws"), None)
    return pulumi.InvokeOptions(parent=opts.parent, provider=provider)


def resolve_identity(opts: pulumi.InvokeOptions | None = None) -> Identity:
    """Account, region and deployer; for an assumed role, the role ARN rather than the session."""
    caller = get_caller_identity(opts=opts)
    region = get_region(opts=opts)
    issuer = iam.get_session_context(arn=caller.arn, opts=opts).issuer_arn
    return Identity(
        account_id=caller.account_id,
        region=region.region or region.name,
        deployer_arn=issuer,
        partition=_partition(caller.arn),
    )


def _partition(arn: str) -> str:
    parsed = parse_arn(arn)
    return parsed.partition if parsed is not None else "aws"


class KmsProtectedTable(pulumi.ComponentResource):
    """A DynamoDB table encrypted with its own customer managed KMS key, whose key policy is built from roles (administrators, users, root delegation, DynamoDB-only use), and an IAM test user with AmazonDynamoDBFullAccess that can read the table only once granted key use."""  # noqa: E501

    key_id: pulumi.Output[str]
    """Id of the customer managed KMS key."""
    key_arn: pulumi.Output[str]
    """ARN of the customer managed KMS key."""
    key_alias: pulumi.Output[str]
    """Alias of the key: alias/<tableName>."""
    table_name: pulumi.Output[str]
    """Name of the DynamoDB table."""
    table_arn: pulumi.Output[str]
    """ARN of the DynamoDB table."""
    test_user_name: pulumi.Output[str]
    """Name of the IAM test user."""
    test_user_arn: pulumi.Output[str]
    """ARN of the IAM test user."""
    key_policy: pulumi.Output[str]
    """The key policy written on the key, as JSON (fixed statement ids, so drift is reported per statement)."""  # noqa: E501

    # The key policy is written inline on the key (`policy`), not as a separate
    # `kms.KeyPolicy`: the key then never exists, even for a moment, with AWS's default
    # policy; a policy change is an in-place update of the same key; and one resource carries
    # the whole protection, which is what the guardrails and the verifier inspect.
    def __init__(
        self,
        name: str,
        args: KmsProtectedTableArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        identity: Identity | None = None,
    ) -> None:
        # Everything that can be wrong with the arguments fails here, before registering.
        settings = validate_args(args)
        identity = identity or resolve_identity(_invoke_options(opts))
        self.plan: Plan = make_plan(settings, identity, namespace=None)
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        s, policy = settings, self.plan.key_policy

        self.test_user = iam.User(
            f"{name}-test-user",
            name=s.test_user_name,
            # The verifier adds short-lived access keys; they must never block a destroy.
            force_destroy=True,
            tags=TAGS,
            opts=child,
        )
        self.test_user_dynamodb_access = iam.UserPolicyAttachment(
            f"{name}-test-user-dynamodb",
            user=self.test_user.name,
            policy_arn=DYNAMODB_FULL_ACCESS_POLICY_ARN,
            opts=child,
        )
        self.key = kms.Key(
            f"{name}-key",
            description=f"Customer managed key for DynamoDB table {s.table_name}",
            key_usage="ENCRYPT_DECRYPT",
            customer_master_key_spec="SYMMETRIC_DEFAULT",
            is_enabled=True,
            enable_key_rotation=True,
            rotation_period_in_days=s.key_rotation_period_days,
            deletion_window_in_days=s.key_deletion_window_days,
            policy=json.dumps(policy),
            bypass_policy_lockout_safety_check=False,
            tags=TAGS,
            # The policy may name the test user, which must exist before KMS accepts it.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.test_user]),
        )
        self.alias = kms.Alias(
            f"{name}-alias",
            name=f"alias/{s.table_name}",
            target_key_id=self.key.key_id,
            opts=child,
        )
        self.table = dynamodb.Table(
            f"{name}-table",
            name=s.table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key="id",
            attributes=[dynamodb.TableAttributeArgs(name="id", type="S")],
            server_side_encryption=dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=self.key.arn
            ),
            point_in_time_recovery=dynamodb.TablePointInTimeRecoveryArgs(
                enabled=s.point_in_time_recovery
            ),
            deletion_protection_enabled=s.deletion_protection,
            tags=TAGS,
            opts=child,
        )
        self.key_id = self.key.key_id
        self.key_arn = self.key.arn
        self.key_alias = self.alias.name
        self.table_name = self.table.name
        self.table_arn = self.table.arn
        self.test_user_name = self.test_user.name
        self.test_user_arn = self.test_user.arn
        self.key_policy = pulumi.Output.from_input(json.dumps(policy))
        self.register_outputs(
            {
                Output.KEY_ID: self.key_id,
                Output.KEY_ARN: self.key_arn,
                Output.KEY_ALIAS: self.key_alias,
                Output.TABLE_NAME: self.table_name,
                Output.TABLE_ARN: self.table_arn,
                Output.TEST_USER_NAME: self.test_user_name,
                Output.TEST_USER_ARN: self.test_user_arn,
                Output.KEY_POLICY: self.key_policy,
            }
        )
