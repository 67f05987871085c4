"""Runs killed midway leave nothing behind once rerun; Ctrl-C/SIGTERM clean up at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import verification
from tests.verification.conftest import TABLE, USER, Deployed
from verification.principals import TAG_PREFIX

pytestmark = pytest.mark.sandbox

REPO = Path(__file__).resolve().parents[2]


def start_held(d: Deployed, tmp_path: Path) -> subprocess.Popen[str]:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(d.outputs))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {k: v for k, v in d.sb.environment().items() if k != "AWS_ENDPOINT_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.verification.held_run", str(outputs), d.sb.endpoint_url],
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
    assert [t["Value"] for t in left["tags"]] == [left["keys"][0]["AccessKeyId"]]
    assert left["tags"][0]["Key"].startswith(TAG_PREFIX)
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
    human = iam.create_access_key(UserName=USER)["AccessKey"]["AccessKeyId"]
    crashed = iam.create_access_key(UserName=USER)["AccessKey"]["AccessKeyId"]
    run_id = "0" * 32
    iam.tag_user(UserName=USER, Tags=[{"Key": TAG_PREFIX + run_id, "Value": crashed}])
    stack.sb.client("dynamodb").put_item(
        TableName=TABLE, Item={"id": {"S": f"kmsguard-verify-{run_id}"}}
    )
    report = verification.run(stack.outputs, endpoint_url=stack.sb.endpoint_url, settle_timeout=0.5)
    assert {r.verdict for r in report.access_rows} == {"pass"}
    left = stack.leftovers()
    assert [k["AccessKeyId"] for k in left["keys"]] == [human]
    assert left["tags"] == [] and left["items"] == []


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
    # Principals that are neither users nor roles are refused up front (tests/test_outputs.py).
    stack.outputs["accessExpectations"] = [
        {"principal": role_arn, "action": "dynamodb:DescribeTable", "expect": "allow"},
        {"principal": role_arn, "action": "dynamodb:GetItem", "expect": "deny"},
    ]
    report = verification.run(stack.outputs, endpoint_url=stack.sb.endpoint_url, settle_timeout=0.5)
    rows = {(r.principal, r.action): r for r in report.access_rows}
    assert rows[(role_arn, "dynamodb:DescribeTable")].verdict == "pass"
    assert rows[(role_arn, "dynamodb:GetItem")].observed == "deny (kms:Decrypt)"
    assert report.exit_code == 0
    assert iam.list_role_tags(RoleName="reader")["Tags"] == []
