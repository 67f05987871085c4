"""dynamodb-table-point-in-time-recovery: PITR on (one property per case)."""

from __future__ import annotations

from typing import Any

import pytest

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
    assert _run(props).texts == ["Table 'r': point-in-time recovery is not enabled"]
