"""A real CLI run on a verbose sandbox: the temporary secrets appear in no output, report or log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN, Output
from sandbox import ACCOUNT_ID, ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, SandboxInfo
from sandbox.settings import READY_PREFIX
from tests.verification.conftest import Deployed, deploy
from verification import principals
from verification.__main__ import main
from verification.aws import Credentials

pytestmark = pytest.mark.sandbox

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def verbose_sandbox(tmp_path: Path) -> Iterator[tuple[SandboxInfo, Path]]:
    """A sandbox serving with --verbose, its log kept in a file the test can read."""
    log = tmp_path / "sandbox.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "serve", "--port", "0", "--verbose"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=REPO,
            env=env,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith(READY_PREFIX), log.read_text()
            endpoint = line[len(READY_PREFIX) :].strip()
            yield (
                SandboxInfo(
                    endpoint, "us-east-1", ACCOUNT_ID, ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
                ),
                log,
            )
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()


def _add_reader_role(sb: SandboxInfo) -> str:
    iam = sb.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{sb.account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    iam.attach_role_policy(RoleName="reader", PolicyArn=DYNAMODB_FULL_ACCESS_POLICY_ARN)
    return str(arn)


def test_temporary_secrets_never_reach_outputs_reports_or_logs(
    verbose_sandbox: tuple[SandboxInfo, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    sb, sandbox_log = verbose_sandbox
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in sb.environment().items():
        if name != "AWS_ENDPOINT_URL":
            monkeypatch.setenv(name, value)
    stack: Deployed = deploy(sb)
    role = _add_reader_role(sb)
    stack.outputs[Output.ACCESS_EXPECTATIONS] = [
        *stack.outputs[Output.ACCESS_EXPECTATIONS],
        {"principal": role, "action": "dynamodb:GetItem", "expect": "deny"},
        # A wrong expectation, so mismatch rows and their explanations are written too.
        {"principal": role, "action": "dynamodb:DescribeTable", "expect": "deny"},
    ]
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(stack.outputs))

    secrets: list[str] = []
    create_key, assume = principals.PrincipalActor._create_key, principals.PrincipalActor._assume

    def recording_create_key(self: Any, ref: Any) -> tuple[Credentials, str]:
        credentials, key_id = create_key(self, ref)
        secrets.append(credentials.secret_access_key)
        return credentials, key_id

    def recording_assume(self: Any, ref: Any, run_id: str) -> Credentials:
        credentials = assume(self, ref, run_id)
        secrets.append(credentials.secret_access_key)
        secrets.append(str(credentials.session_token))
        return credentials

    monkeypatch.setattr(principals.PrincipalActor, "_create_key", recording_create_key)
    monkeypatch.setattr(principals.PrincipalActor, "_assume", recording_assume)

    written = [tmp_path / "report.json", tmp_path / "report.xml"]
    code = main(
        [
            "--outputs",
            str(outputs),
            "--endpoint-url",
            sb.endpoint_url,
            "--settle-timeout",
            "0.5",
            "--json",
            str(written[0]),
            "--junit-xml",
            str(written[1]),
        ]
    )
    captured = capfd.readouterr()
    assert code == 1, captured.err  # the wrong DescribeTable expectation
    assert len(secrets) == 3, "a user key and a role session (secret and token) were created"
    everything = {
        "stdout": captured.out,
        "stderr": captured.err,
        **{path.name: path.read_text() for path in written},
        "sandbox log": sandbox_log.read_text(),
    }
    assert "dynamodb:GetItem" in everything["report.json"]
    assert "kms:Decrypt" in everything["sandbox log"], "the sandbox logged its decisions"
    for where, text in everything.items():
        for secret in secrets:
            assert secret not in text, f"a temporary secret is in the {where}"
    assert (
        sb.client("iam").list_access_keys(UserName=stack.outputs[Output.TEST_USER_NAME])[
            "AccessKeyMetadata"
        ]
        == []
    )
