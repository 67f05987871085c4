"""The main job end to end: both phases, guardrails, the same key, nothing left running."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest
from rich.console import Console

from demo.__main__ import render
from demo.attempts import OTHER_ACCOUNT
from demo.engine import SandboxEngine, StackState, UnsupportedResourceError
from demo.flow import Demo, DemoResult, stack_outputs
from kmsguard.contract import AwsType
from sandbox import running
from tests.pulumi_cli import needs_pulumi_cli

REPO = Path(__file__).resolve().parents[2]
DATA_ACTIONS = ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Scan")


def _children() -> set[int]:
    """Live (non-zombie) child processes of this test process."""
    me, found = os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == me and stat[0] != "Z":
            found.add(int(entry.name))
    return found


# One worker runs the whole module, and the demo run is session-scoped, so it is built once even
# when the worker runs other tests between this module's (a module-scoped one was torn down and
# built again then).
pytestmark = pytest.mark.xdist_group("demo-run")


@pytest.fixture(scope="session")
def demo_run() -> tuple[DemoResult, set[int], set[int]]:
    before = _children()
    lines: list[str] = []
    with running() as sb:
        result = Demo(sb, lines.append).run()
    return result, before, _children()


def observed(result: DemoResult, phase: int) -> dict[str, str]:
    report = result.phases[phase].report
    assert report is not None
    return {row.action: row.observed for row in report.access_rows}


def test_phase_denied_matrix_denies_the_test_user_its_data(demo_run) -> None:
    result, _, _ = demo_run
    phase = result.phases[0]
    assert (phase.name, phase.granted) == ("denied", False)
    seen = observed(result, 0)
    assert seen["dynamodb:DescribeTable"] == "allow"
    for action in DATA_ACTIONS:
        assert seen[action].startswith("deny"), (action, seen[action])
    assert phase.report is not None and phase.report.exit_code == 0


def test_phase_granted_matrix_lets_the_test_user_read_and_write(demo_run) -> None:
    result, _, _ = demo_run
    seen = observed(result, 1)
    for action in DATA_ACTIONS:
        assert seen[action] == "allow", (action, seen[action])
    # Restricted to DynamoDB: a direct Decrypt stays denied even for a key user.
    assert seen["kms:Decrypt"].startswith("deny")
    assert result.phases[1].ok


def test_the_key_is_updated_in_place_not_replaced(demo_run) -> None:
    result, _, _ = demo_run
    assert len(result.key_ids) == 2 and result.same_key
    applied = result.phases[1].applied
    assert any(line.startswith(f"updated {AwsType.KMS_KEY}") for line in applied)
    assert not any(line.startswith("created") for line in applied)


def test_weakening_changes_are_blocked_by_the_named_rule_before_deploying(demo_run) -> None:
    result, _, _ = demo_run
    by_rule = {a.expected_rule: a for a in result.attempts}
    assert set(by_rule) == {
        "kms-key-rotation-enabled",
        "kms-key-policy-no-public-principal",
        "dynamodb-table-customer-managed-key",
        "dynamodb-table-readers-match-declared",
    }
    for rule, attempt in by_rule.items():
        assert rule in attempt.blocking_rules, attempt.blocking_rules
        assert attempt.unchanged, f"{rule}: deployed state changed"
    assert result.ok


def test_sharing_the_table_with_another_account_is_refused_with_the_witness(demo_run) -> None:
    result, _, _ = demo_run
    [attempt] = [a for a in result.attempts if a.title.startswith("share the table")]
    assert attempt.expected_rule == "dynamodb-table-readers-match-declared"
    assert attempt.expected_rule in attempt.blocking_rules and attempt.unchanged
    [witness] = attempt.witness
    # The principal and the request that reads: the other account's root, on this table.
    assert f"arn:aws:iam::{OTHER_ACCOUNT}:root (" in witness, witness
    assert "GetItem" in witness and ":table/kms-protected-table)" in witness, witness


def test_who_can_read_is_shown_per_phase_and_grows_by_the_test_user(demo_run) -> None:
    result, _, _ = demo_run
    denied, granted = (phase.readers for phase in result.phases)
    assert denied == [
        "declared key users that can read: none; 1 other users and roles: none can read (pass)"
    ]
    assert granted == [
        "declared key users that can read: user/kms-test-user; "
        "0 other users and roles: none can read (pass)"
    ]
    out = io.StringIO()
    render(Console(file=out, width=150, highlight=False), result, "simulation")
    flat = " ".join(re.sub(r"[│┃]", " ", out.getvalue()).split())
    for phase, line in (("denied", denied[0]), ("granted", granted[0])):
        assert f"who can read the table's items in phase {phase!r}: {line}" in flat
    witness = " ".join(next(a for a in result.attempts if a.title.startswith("share")).witness)
    assert (
        f"why dynamodb-table-readers-match-declared refused to share the table with account "
        f"{OTHER_ACCOUNT} in a table policy (code): {witness}"
    ) in flat


def test_nothing_is_left_running_or_deployed(demo_run) -> None:
    result, before, after = demo_run
    assert after <= before, f"child processes left running: {after - before}"
    assert len(result.destroyed) == 5


def test_engine_refuses_resource_types_the_program_does_not_use() -> None:
    engine = SandboxEngine(lambda _: None, "us-east-1", StackState())
    args = pulumi.runtime.MockResourceArgs(
        typ="aws:s3/bucket:Bucket", name="b", inputs={}, provider=None, resource_id=None
    )
    with pytest.raises(UnsupportedResourceError, match=r"refuses resource type aws:s3/bucket"):
        engine.new_resource(args)


def test_engine_preview_leaves_new_resources_unknown_and_touches_nothing() -> None:
    calls: list[str] = []
    engine = SandboxEngine(calls.append, "us-east-1", StackState(), preview=True)
    args = pulumi.runtime.MockResourceArgs(
        typ=AwsType.KMS_KEY, name="k", inputs={"policy": "{}"}, provider=None, resource_id=None
    )
    assert engine.new_resource(args) == (None, {"policy": "{}"})
    assert calls == []


def test_stack_outputs_print_whole_numbers_as_integers() -> None:
    assert stack_outputs({"a": 365.0, "b": [1.5, {"c": 30.0}], "d": "x"}) == {
        "a": 365,
        "b": [1.5, {"c": 30}],
        "d": "x",
    }


@pytest.mark.cli
@needs_pulumi_cli("the demo's real `pulumi up --policy-pack policies` path")
def test_demo_with_the_real_pulumi_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "demo", "--engine", "cli"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "RESULT: PASS" in proc.stdout


def test_preview_of_an_update_knows_the_deployed_keys_arn() -> None:
    from kmsguard.preview.collect import UNKNOWN, run_program

    with running() as sb:
        state = StackState()
        clients = {s: sb.client(s) for s in ("sts", "iam", "kms", "dynamodb")}
        config = {"aws:region": sb.region, "grantTestUserKeyAccess": False}

        def engine(preview: bool) -> SandboxEngine:
            return SandboxEngine(clients.__getitem__, sb.region, state, preview=preview)

        first = run_program(config, preview=True, mocks=engine(True))
        assert first.outputs["keyArn"] == UNKNOWN
        deployed = run_program(config, preview=False, mocks=engine(False))
        update = run_program(
            {**config, "grantTestUserKeyAccess": True}, preview=True, mocks=engine(True)
        )
        table = next(r for r in update.resources if r.type == AwsType.DYNAMODB_TABLE)
        assert table.inputs["serverSideEncryption"]["kmsKeyArn"] == deployed.outputs["keyArn"]
        assert update.outputs["keyArn"] == deployed.outputs["keyArn"]
        engine(False).destroy()


def test_the_pinned_demo_stack_leaves_no_check_waiting_for_its_account(demo_run) -> None:
    result, _, _ = demo_run
    said = [
        v.message
        for phase in result.phases
        for v in phase.preview_violations + phase.update_violations
    ]
    assert not [m for m in said if "aws:allowedAccountIds" in m], said
