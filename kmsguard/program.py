"""The Pulumi program: read and validate config, resolve the deployer, build, export outputs."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from kmsguard.component import KmsProtectedTable, component_args, resolve_identity
from kmsguard.contract import PROJECT, Output
from kmsguard.plan import Plan, make_plan
from kmsguard.settings import ConfigError, Settings, parse_settings

COMPONENT_NAME = "kms-protected"


def raw_project_config() -> dict[str, Any]:
    """Every `kmsguard:*` key set for the stack, without the namespace (typos included)."""
    prefix = f"{PROJECT}:"
    keys = {*runtime_config.CONFIG.get(), *runtime_config.get_config_env()}
    return {
        k[len(prefix) :]: runtime_config.get_config(k) for k in sorted(keys) if k.startswith(prefix)
    }


def load_plan() -> Plan:
    try:
        settings: Settings = parse_settings(raw_project_config())
        return make_plan(settings, resolve_identity())
    except ConfigError as err:
        # RunError ends the program before any resource is registered, without a traceback.
        raise pulumi.RunError(str(err)) from None


def build() -> dict[str, Any]:
    """Register the resources and return the stack outputs (name -> value or Output)."""
    plan = load_plan()
    # The plan was checked with config-key names; the component gets the identity resolved
    # for it, so the same plan is built again without a second round of invokes.
    protected = KmsProtectedTable(
        COMPONENT_NAME, component_args(plan.settings), identity=plan.identity
    )
    s = plan.settings
    return {
        Output.TABLE_NAME: protected.table.name,
        Output.TABLE_ARN: protected.table.arn,
        Output.KEY_ID: protected.key.key_id,
        Output.KEY_ARN: protected.key.arn,
        Output.KEY_ALIAS: protected.alias.name,
        Output.TEST_USER_NAME: protected.test_user.name,
        Output.TEST_USER_ARN: protected.test_user.arn,
        Output.KEY_ADMINISTRATOR_ARNS: list(plan.administrators),
        Output.KEY_USER_ARNS: list(plan.users),
        Output.ACCESS_EXPECTATIONS: [dict(row) for row in plan.expectations],
        Output.KEY_POLICY: plan.key_policy,
        Output.KEY_ROTATION_PERIOD_DAYS: s.key_rotation_period_days,
        Output.KEY_DELETION_WINDOW_DAYS: s.key_deletion_window_days,
        Output.REGION: plan.identity.region,
        Output.ACCOUNT_ID: plan.identity.account_id,
    }


def main() -> None:
    for name, value in build().items():
        pulumi.export(name, value)
