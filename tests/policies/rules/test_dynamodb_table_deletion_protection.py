"""dynamodb-table-deletion-protection: deletion protection on (one property per case)."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE as UNKNOWN

from kmsguard.contract import AwsType
from policies.rules import dynamodb_table_deletion_protection as deletion_protection
from tests.policies.helpers import resource_args, run_rule


def _run(props: dict[str, Any]) -> Any:
    return run_rule(deletion_protection, resource_args(AwsType.DYNAMODB_TABLE, props))


def test_baseline_deletion_protection_enabled_passes():
    r = _run({"deletionProtectionEnabled": True})
    assert r.messages == [] and r.deferred == []


@pytest.mark.parametrize(
    "props", [{"deletionProtectionEnabled": False}, {}], ids=["disabled", "absent"]
)
def test_deletion_protection_off_or_absent_is_reported(props):
    r = _run(props)
    [f] = r.found
    assert (f.code, f.resource, f.detail) == (
        "deletion-protection-disabled",
        "Table 'r'",
        "deletion protection is not enabled",
    )
    assert f.witness == {"enabled": False if props else None}
    assert r.texts == ["Table 'r': deletion protection is not enabled"]


def test_unknown_setting_defers():
    r = _run({"deletionProtectionEnabled": UNKNOWN})
    assert r.found == [] and r.deferred_codes == ["deletion-protection-unknown"]
    assert r.deferred == ["Table 'r': deletionProtectionEnabled is unknown during preview"]
