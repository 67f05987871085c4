"""The command as installed and as a module; the optional scheduled job that runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kmsguard.audit.cli import parser
from tests.help_text import undocumented_options

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "audit.yml"


def test_every_option_says_what_it_does_and_the_exits_are_listed() -> None:
    text = parser().format_help()
    assert undocumented_options(text) == []
    for code in ("0:", "1:", "2:", "3:"):
        assert f"Exit {code}" in text or f"; {code}" in text, code


def test_the_module_and_the_console_script_run() -> None:
    module = subprocess.run(
        [sys.executable, "-m", "kmsguard.audit", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert module.returncode == 0 and "kmsguard-audit" in module.stdout
    script = Path(sys.executable).parent / "kmsguard-audit"
    assert script.is_file(), "reinstall the distribution (make venv): the console script is new"
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout == module.stdout


def test_the_scheduled_audit_is_optional_read_only_and_on_oidc() -> None:
    flow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = flow[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert flow["permissions"] == {"contents": "read"}
    (job,) = flow["jobs"].values()
    assert job["if"] == "vars.AWS_AUDIT_ROLE_ARN != ''"
    assert job["permissions"]["id-token"] == "write"
    role = [s for s in job["steps"] if str(s.get("uses", "")).startswith("aws-actions/")]
    assert [s["with"]["role-to-assume"] for s in role] == ["${{ vars.AWS_AUDIT_ROLE_ARN }}"]
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "aws-access-key-id" not in text and "secrets." not in text
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert any(r.startswith("venv/bin/kmsguard-audit ") for r in runs)


def test_credentials_refused_without_a_code_say_unknown_not_none() -> None:
    from botocore.exceptions import ClientError

    from kmsguard.audit.__main__ import _identity

    class Sts:
        def get_caller_identity(self) -> None:
            raise ClientError({"Error": {"Message": "signature mismatch"}}, "GetCallerIdentity")

    with pytest.raises(ValueError) as refused:
        _identity(lambda service, region: Sts(), "us-east-1")
    assert str(refused.value) == "the credentials were refused by STS (Unknown: signature mismatch)"
