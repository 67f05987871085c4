"""Enforcement level `remediate`: the pack's remediations, applied over the Remediate RPC."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi_aws as aws
import pytest

from kmsguard.preview.__main__ import main as preview_main
from kmsguard.preview.analyzer import PolicyPackClient
from kmsguard.preview.collect import run_program
from kmsguard.preview.report import judge, render
from tests.preview.sarif_check import validated

ROTATION = "kms-key-rotation-enabled"
REMEDIABLE = (
    ROTATION,
    "kms-key-deletion-window",
    "dynamodb-table-point-in-time-recovery",
    "dynamodb-table-deletion-protection",
)


def weak_program() -> None:
    aws.kms.Key("k", enable_key_rotation=False, deletion_window_in_days=7)
    aws.dynamodb.Table(
        "t",
        hash_key="id",
        attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
        point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(
            enabled=False, recovery_period_in_days=10
        ),
    )


def _cli(tmp_path: Path, levels: dict[str, str] | None) -> tuple[int, list[dict[str, Any]], Any]:
    args = ["--phase", "granted", "--update", "--config", "kmsguard:keyRotationPeriodDays=730"]
    if levels is not None:
        config = tmp_path / "policy-config.json"
        config.write_text(json.dumps(levels), encoding="utf-8")
        args += ["--policy-config", str(config)]
    args += ["--json", str(tmp_path / "out.json"), "--sarif", str(tmp_path / "out.sarif")]
    code = preview_main(args)
    [outcome] = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    return code, outcome["violations"], validated(tmp_path / "out.sarif")


def test_the_cli_applies_a_remediation_and_reports_what_it_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, violations, _ = _cli(tmp_path, None)
    assert code == 1
    assert [v["level"] for v in violations if v["policy"] == ROTATION] == ["mandatory"]
    capsys.readouterr()

    code, violations, log = _cli(tmp_path, {ROTATION: "remediate"})
    out = capsys.readouterr().out
    assert code == 0, out
    [fixed] = [v for v in violations if v["policy"] == ROTATION]
    assert fixed["level"] == "remediate"
    assert fixed["severity"] == "high"
    assert fixed["type"] == "aws:kms/key:Key"
    assert fixed["changes"] == [{"property": "rotationPeriodInDays", "before": 730, "after": 365}]
    assert not [v for v in violations if v["level"] == "mandatory"]
    assert f"- [remediate]  [{ROTATION}]" in out
    assert "rotationPeriodInDays: 730 -> 365" in out

    [result] = [r for r in log.runs[0].results or [] if r.rule_id == ROTATION]
    assert result.level is not None and result.level.value == "warning"
    props = result.properties or {}
    assert props["enforcementLevel"] == "remediate"
    assert props["changes"] == fixed["changes"]


def _outcome(levels: dict[str, str], packs: int = 1) -> Any:
    run = run_program({}, preview=False, program=weak_program)
    clients = [PolicyPackClient(preview=False) for _ in range(packs)]
    try:
        for c in clients:
            c.configure({name: {"enforcementLevel": level} for name, level in levels.items()})
        return judge(run, clients, [c.describe() for c in clients])
    finally:
        for c in clients:
            c.close()


def test_each_remediation_sees_the_one_before_and_analysis_sees_the_result() -> None:
    o = _outcome(dict.fromkeys(REMEDIABLE, "remediate"))
    by_policy = {f.policy_name: f for f in o.remediations}
    assert set(by_policy) == set(REMEDIABLE)
    assert by_policy[ROTATION].changes == [
        ("enableKeyRotation", False, True),
        ("rotationPeriodInDays", None, 365),
    ]
    assert by_policy["kms-key-deletion-window"].changes == [("deletionWindowInDays", 7, 30)]
    pitr = by_policy["dynamodb-table-point-in-time-recovery"]
    assert pitr.changes == [
        (
            "pointInTimeRecovery",
            {"enabled": False, "recoveryPeriodInDays": 10},
            {"enabled": True, "recoveryPeriodInDays": 10},
        )
    ]
    # The table's second remediation starts from the first one's result.
    protection = by_policy["dynamodb-table-deletion-protection"]
    assert protection.before["pointInTimeRecovery"]["enabled"] is True
    assert protection.changes == [("deletionProtectionEnabled", None, True)]
    # What the engine registers, and what every policy after it judges, is the remediated one.
    key = next(r for r in o.run.resources if r.type == "aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True and key.outputs["deletionWindowInDays"] == 30
    assert not {v.policy_name for v in o.violations} & set(REMEDIABLE)
    text = render([o])
    assert "deletionWindowInDays: 7 -> 30" in text


def test_a_second_pack_sees_the_first_packs_remediations() -> None:
    o = _outcome({ROTATION: "remediate"}, packs=2)
    assert [f.policy_name for f in o.remediations] == [ROTATION]
    assert ROTATION not in {v.policy_name for v in o.violations}


def test_a_rule_without_remediation_stays_a_mandatory_violation_at_level_remediate() -> None:
    # The SDK reports a violation that remediation did not fix as mandatory, as the engine does.
    o = _outcome({"dynamodb-table-customer-managed-key": "remediate"})
    assert o.remediations == []
    levels = {v.enforcement_level for v in o.violations if "customer-managed" in v.policy_name}
    assert levels == {"mandatory"}
