"""`python -m sandbox serve --verbose` logs every authorization decision, the admin's included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from sandbox.settings import ACCOUNT_ID, ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, READY_PREFIX

pytestmark = pytest.mark.sandbox
REPO = Path(__file__).resolve().parents[2]
ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"


def test_verbose_logs_the_admins_decisions_too() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--port", "0", "--verbose"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        endpoint = proc.stdout.readline().removeprefix(READY_PREFIX).strip()
        assert endpoint.startswith("http://127.0.0.1:"), endpoint
        session = boto3.session.Session(
            aws_access_key_id=ADMIN_ACCESS_KEY_ID,
            aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY,
            region_name="us-east-1",
        )
        session.client("iam", endpoint_url=endpoint).create_user(UserName="someone")
        session.client("dynamodb", endpoint_url=endpoint).list_tables()
        session.client("kms", endpoint_url=endpoint).create_key()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    decisions = [line for line in err.splitlines() if f"{ROOT} " in line]
    for action in ("iam:CreateUser", "dynamodb:ListTables", "kms:CreateKey"):
        assert any(f" {action} on " in line and "-> allow" in line for line in decisions), (
            action,
            err[-2000:],
        )
