"""dynamodb-table-point-in-time-recovery: PITR on (one property per case)."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE as UNKNOWN

from kmsguard.contract import AwsType
from policies.rules import dynamodb_table_point_in_time_recovery as pitr
from tests.policies.helpers import resource_args, run_rule


def _run(props: dict[str, Any]) -> Any:
    return run_rule(pitr, resource_args(AwsType.DYNAMODB_TABLE, props))


def test_baseline_pitr_enabled_passes():
    r = _run({"pointInTimeRecovery": {"enabled": True}})
    assert r.messages == [] and r.deferred == []


@pytest.mark.parametrize(
    "props", [{"pointInTimeRecovery": {"enabled": False}}, {}], ids=["disabled", "absent"]
)
def test_pitr_off_or_absent_is_reported(props):
    r = _run(props)
    [f] = r.found
    assert (f.code, f.resource, f.detail) == (
        "pitr-disabled",
        "Table 'r'",
        "point-in-time recovery is not enabled",
    )
    assert f.witness == {"enabled": False if props else None}
    assert r.texts == ["Table 'r': point-in-time recovery is not enabled"]


def test_unknown_setting_defers():
    r = _run({"pointInTimeRecovery": {"enabled": UNKNOWN}})
    assert r.found == [] and r.deferred_codes == ["pitr-unknown"]
    assert r.deferred == ["Table 'r': pointInTimeRecovery.enabled is unknown during preview"]
