"""Runs killed midway leave nothing behind once rerun; Ctrl-C/SIGTERM clean up at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import verification
from kmsguard.contract import Output
from tests.verification.conftest import Deployed
from verification.ledger import (
    LEASE_SECONDS,
    TAG_PREFIX,
    Owner,
    encode_record,
    host_name,
    parse_record,
    process_start,
)

pytestmark = pytest.mark.sandbox

REPO = Path(__file__).resolve().parents[2]


def start_held(d: Deployed, tmp_path: Path) -> subprocess.Popen[str]:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(d.outputs))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {k: v for k, v in d.sb.environment().items() if k != "AWS_ENDPOINT_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.verification.held_run", str(outputs), d.sb.endpoint_url],
        stdin=subprocess.PIPE,  # it holds until a line arrives here
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("HOLDING"), line + proc.stderr.read() if proc.stderr else ""
    return proc


def held_state(d: Deployed) -> dict[str, list]:
    left = d.leftovers()
    assert len(left["keys"]) == 1  # the run's temporary key exists while it holds
    [tag] = left["tags"]
    assert tag["Key"].startswith(TAG_PREFIX)
    assert parse_record(tag["Value"]).key == left["keys"][0]["AccessKeyId"]
    return left


@pytest.mark.parametrize("grant", [True, False])
def test_sigkill_midway_then_rerun_removes_key_and_probe_item(
    stack: Deployed, tmp_path: Path, grant: bool
) -> None:
    if grant:
        stack.apply(grant=True)
    proc = start_held(stack, tmp_path)
    try:
        left = held_state(stack)
        assert len(left["items"]) == (1 if grant else 0)  # the probe item, when PutItem works
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert stack.leftovers()["keys"]  # nothing cleaned up a SIGKILLed run
    report = verification.run(stack.outputs, endpoint_url=stack.sb.endpoint_url, settle_timeout=0.5)
    assert any("removed access key" in n for n in report.notes)
    after = stack.leftovers()
    assert after == {"keys": [], "tags": [], "items": []}


def test_a_second_run_leaves_a_live_runs_key_and_item_alone(
    stack: Deployed, tmp_path: Path
) -> None:
    stack.apply(grant=True)
    proc = start_held(stack, tmp_path)
    try:
        held = held_state(stack)
        assert len(held["items"]) == 1
        report = verification.run(
            stack.outputs, endpoint_url=stack.sb.endpoint_url, settle_timeout=0.5
        )
        assert {r.verdict for r in report.access_rows} == {"pass"}
        user_arn = stack.outputs[Output.TEST_USER_ARN]
        assert (
            f"{user_arn}: another verifier run (pid {proc.pid}, host {host_name()}) is active on "
            f"{user_arn}; its key was left alone"
        ) in report.notes
        assert stack.leftovers() == held  # the first run's key, tag and probe item
        out, err = proc.communicate("go\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out + err
    assert "NOTE" not in out  # no cleanup problem: its key was still there to delete
    assert stack.leftovers() == {"keys": [], "tags": [], "items": []}


def test_sigterm_midway_cleans_up_without_a_rerun(stack: Deployed, tmp_path: Path) -> None:
    stack.apply(grant=True)
    proc = start_held(stack, tmp_path)
    try:
        held_state(stack)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "INTERRUPTED" in out
    assert stack.leftovers() == {"keys": [], "tags": [], "items": []}


def test_leftover_frees_the_second_key_slot(stack: Deployed) -> None:
    """A crashed run's key plus a human's key: the leftover goes, the human's key stays."""
    iam = stack.sb.client("iam")
    human = iam.create_access_key(UserName=stack.user)["AccessKey"]["AccessKeyId"]
    crashed = iam.create_access_key(UserName=stack.user)["AccessKey"]["AccessKeyId"]
    run_id = "0" * 32
    iam.tag_user(UserName=stack.user, Tags=[{"Key": TAG_PREFIX + run_id, "Value": crashed}])
    stack.sb.client("dynamodb").put_item(
        TableName=stack.table, Item={"id": {"S": f"kmsguard-verify-{run_id}"}}
    )
    report = verification.run(stack.outputs, endpoint_url=stack.sb.endpoint_url, settle_timeout=0.5)
    assert {r.verdict for r in report.access_rows} == {"pass"}
    left = stack.leftovers()
    assert [k["AccessKeyId"] for k in left["keys"]] == [human]
    assert left["tags"] == [] and left["items"] == []


def owner_here(until: float) -> Owner:
    return Owner(host_name(), os.getpid(), process_start(os.getpid()) or "", until)


# Leases are given relative to the moment the test runs (never to collection time, which can
# be minutes earlier on a loaded machine): (whose record, lease left in seconds, kept).
@pytest.mark.parametrize(
    ("here", "lease_left", "kept"),
    [
        pytest.param(False, LEASE_SECONDS, True, id="another host, lease running"),
        pytest.param(False, -1.0, False, id="another host, lease expired"),
        # This very process, a run id not acting now: a run of it that ended without cleanup.
        pytest.param(True, LEASE_SECONDS, False, id="this process, run ended"),
    ],
)
def test_a_record_of_a_run_elsewhere_is_kept_while_its_lease_runs(
    stack: Deployed, here: bool, lease_left: float, kept: bool
) -> None:
    until = time.time() + lease_left
    owner = owner_here(until) if here else Owner("another-runner", 4242, "1", until)
    iam = stack.sb.client("iam")
    key = iam.create_access_key(UserName=stack.user)["AccessKey"]["AccessKeyId"]
    tag = {"Key": TAG_PREFIX + "1" * 32, "Value": encode_record(key, owner)}
    iam.tag_user(UserName=stack.user, Tags=[tag])
    report = verification.run(stack.outputs, endpoint_url=stack.sb.endpoint_url, settle_timeout=0.5)
    assert {r.verdict for r in report.access_rows} == {"pass"}
    left = stack.leftovers()
    if kept:
        assert [k["AccessKeyId"] for k in left["keys"]] == [key] and left["tags"] == [tag]
        assert any(
            f"another verifier run (pid {owner.pid}, host {owner.host})" in n for n in report.notes
        )
    else:
        assert left == {"keys": [], "tags": [], "items": []}
        assert any(f"removed access key {key}" in n for n in report.notes)


def test_roles_are_assumed_and_leave_no_tag(stack: Deployed) -> None:
    iam = stack.sb.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{stack.sb.account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(
        RoleName="reader", PolicyArn="arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"
    )
    role_arn = role["Role"]["Arn"]
    # The program declares rows for its test user only; a stack declaring a role's rows is
    # written here. Principals that are neither users nor roles are refused up front
    # (tests/verification/test_outputs.py).
    stack.outputs[Output.ACCESS_EXPECTATIONS] = [
        {"principal": role_arn, "action": "dynamodb:DescribeTable", "expect": "allow"},
        {"principal": role_arn, "action": "dynamodb:GetItem", "expect": "deny"},
    ]
    report = verification.run(stack.outputs, endpoint_url=stack.sb.endpoint_url, settle_timeout=0.5)
    rows = {(r.principal, r.action): r for r in report.access_rows}
    assert rows[(role_arn, "dynamodb:DescribeTable")].verdict == "pass"
    assert rows[(role_arn, "dynamodb:GetItem")].observed == "deny (kms:Decrypt)"
    assert report.exit_code == 0
    assert iam.list_role_tags(RoleName="reader")["Tags"] == []
