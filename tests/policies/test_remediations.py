"""Every rule with an unambiguous fix remediates; every other one says why it cannot."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import ResourceValidationPolicy

from kmsguard.contract import AwsType
from policies.rules import MODULES
from policies.rules import (
    dynamodb_table_deletion_protection as protection,
)
from policies.rules import (
    dynamodb_table_point_in_time_recovery as pitr,
)
from policies.rules import kms_key_deletion_window as window
from policies.rules import kms_key_rotation_enabled as rotation
from policies.values import UNKNOWN_SENTINELS
from tests.policies.helpers import resource_args

UNKNOWN = min(UNKNOWN_SENTINELS)  # deterministic: xdist workers must collect the same ids
REMEDIABLE = {m.META.name for m in (rotation, window, pitr, protection)}


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.META.name)
def test_a_rule_remediates_or_its_metadata_says_why_not(module: Any) -> None:
    policy = module.POLICY
    remediable = isinstance(policy, ResourceValidationPolicy) and policy.has_remediation()
    assert remediable == (module.META.name in REMEDIABLE)
    steps = policy.remediation_steps
    if remediable:
        assert not module.META.no_remediation
        assert "'remediate'" in steps and "No automatic remediation" not in steps
    else:
        why = steps.split("No automatic remediation: ", 1)[1]
        assert len(why) > 20 and why.endswith(".")


def _fix(module: Any, rtype: str, props: dict[str, Any], **config: Any) -> Any:
    return module.remediate(resource_args(rtype, props, config or None))


@pytest.mark.parametrize(
    ("props", "config", "expected"),
    [
        ({"deletionWindowInDays": 7}, {}, 30),
        ({"deletionWindowInDays": 7}, {"minDeletionWindowDays": 10}, 10),
        ({"deletionWindowInDays": 45}, {"minDeletionWindowDays": 7}, 30),
        ({"deletionWindowInDays": "soon"}, {"minDeletionWindowDays": 14}, 14),
        ({"deletionWindowInDays": 20}, {"minDeletionWindowDays": 7}, None),
        ({}, {}, None),
        ({"deletionWindowInDays": UNKNOWN}, {}, None),
    ],
)
def test_deletion_window_remediation(props: dict, config: dict, expected: int | None) -> None:
    fixed = _fix(window, AwsType.KMS_KEY, {"description": "d", **props}, **config)
    if expected is None:
        assert fixed is None
    else:
        assert fixed == {"description": "d", "deletionWindowInDays": expected}


@pytest.mark.parametrize(
    ("value", "fixed"),
    [(False, True), (None, True), ("false", True), (True, False), (UNKNOWN, False)],
)
def test_deletion_protection_remediation(value: Any, fixed: bool) -> None:
    props = {"name": "t"} if value is None else {"name": "t", "deletionProtectionEnabled": value}
    result = _fix(protection, AwsType.DYNAMODB_TABLE, props)
    assert (result == {"name": "t", "deletionProtectionEnabled": True}) if fixed else result is None


def test_point_in_time_recovery_remediation_keeps_the_recovery_period() -> None:
    block = {"enabled": False, "recoveryPeriodInDays": 7}
    result = _fix(pitr, AwsType.DYNAMODB_TABLE, {"pointInTimeRecovery": block})
    assert result == {"pointInTimeRecovery": {"enabled": True, "recoveryPeriodInDays": 7}}
    assert _fix(pitr, AwsType.DYNAMODB_TABLE, {}) == {"pointInTimeRecovery": {"enabled": True}}
    on = {"pointInTimeRecovery": {"enabled": True}}
    assert _fix(pitr, AwsType.DYNAMODB_TABLE, on) is None
    unknown = {"pointInTimeRecovery": {"enabled": UNKNOWN}}
    assert _fix(pitr, AwsType.DYNAMODB_TABLE, unknown) is None
    assert _fix(pitr, AwsType.KMS_KEY, {}) is None


def test_rotation_remediation_turns_rotation_on_within_the_maximum() -> None:
    assert _fix(rotation, AwsType.KMS_KEY, {"enableKeyRotation": False}) == {
        "enableKeyRotation": True,
        "rotationPeriodInDays": 365,
    }
    over = {"enableKeyRotation": True, "rotationPeriodInDays": 730}
    assert (
        _fix(rotation, AwsType.KMS_KEY, over, maxRotationPeriodDays=500)["rotationPeriodInDays"]
        == 500
    )
    assert _fix(rotation, AwsType.KMS_KEY, {"enableKeyRotation": True}) is None
