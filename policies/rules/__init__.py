"""The pack's rules, in report order; each module holds its metadata (META) and POLICY."""

from __future__ import annotations

from types import ModuleType

from pulumi_policy import Policy

from policies.meta import RuleMeta
from policies.rules import (
    dynamodb_table_customer_managed_key,
    dynamodb_table_deletion_protection,
    dynamodb_table_point_in_time_recovery,
    dynamodb_table_readers_match_declared,
    iam_policy_no_kms_decrypt_on_all_keys,
    kms_key_deletion_window,
    kms_key_policy_declared,
    kms_key_policy_least_privilege,
    kms_key_policy_lockout_safe,
    kms_key_policy_no_new_access,
    kms_key_policy_no_public_principal,
    kms_key_policy_size,
    kms_key_policy_valid,
    kms_key_rotation_enabled,
    kms_key_rotation_supported,
    kms_key_symmetric_for_tables,
    stack_key_access_matches_declared,
)

MODULES: tuple[ModuleType, ...] = (
    dynamodb_table_customer_managed_key,
    kms_key_rotation_enabled,
    kms_key_rotation_supported,
    kms_key_deletion_window,
    kms_key_symmetric_for_tables,
    kms_key_policy_valid,
    kms_key_policy_size,
    kms_key_policy_declared,
    kms_key_policy_no_public_principal,
    kms_key_policy_least_privilege,
    kms_key_policy_lockout_safe,
    kms_key_policy_no_new_access,
    iam_policy_no_kms_decrypt_on_all_keys,
    stack_key_access_matches_declared,
    dynamodb_table_readers_match_declared,
    dynamodb_table_point_in_time_recovery,
    dynamodb_table_deletion_protection,
)

METAS: tuple[RuleMeta, ...] = tuple(m.META for m in MODULES)
POLICIES: list[Policy] = [m.POLICY for m in MODULES]
BY_NAME: dict[str, ModuleType] = {m.META.name: m for m in MODULES}
