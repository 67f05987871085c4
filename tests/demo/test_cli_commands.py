"""The demo's real-CLI path: the exact `pulumi` command lines and stack file it produces.

The commands are recorded, not run (the CLI cannot be installed here): every one answers
"failed", so nothing pretends to deploy, and the recording shows what a user's CLI would be asked.
"""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from demo.cli import PACK, STACK, run_with_cli, sandbox_stack_config
from sandbox.settings import ACCOUNT_ID

REPO = Path(__file__).resolve().parents[2]
TAIL = ["--non-interactive", "--stack", STACK]


@dataclass
class Call:
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    stack_file: dict[str, Any]


def record_failing_runs(calls: list[Call]) -> Any:
    def run(argv: list[str], *, cwd: Path, env: dict[str, str], **_: Any) -> Any:
        text = (Path(cwd) / f"Pulumi.{STACK}.yaml").read_text(encoding="utf-8")
        calls.append(Call(list(argv), Path(cwd), dict(env), yaml.safe_load(text)))
        # Only `up` and `preview` report failure; config edits succeed as the CLI's would.
        code = 1 if argv[1] in ("up", "preview") else 0
        return subprocess.CompletedProcess(argv, code, stdout="", stderr="recorded, not run")

    return run


def test_cli_demo_commands_and_stack_file_for_another_region() -> None:
    calls: list[Call] = []
    out = io.StringIO()
    code = run_with_cli(Console(file=out), region="eu-west-3", run=record_failing_runs(calls))

    assert code == 1 and "RESULT: FAIL" in out.getvalue()
    assert [c.argv for c in calls] == [
        ["pulumi", "stack", "init", STACK, "--no-select", "--non-interactive"],
        ["pulumi", "config", "set", "kmsguard:grantTestUserKeyAccess", "false", *TAIL],
        ["pulumi", "up", "--yes", "--policy-pack", str(PACK), *TAIL],
        ["pulumi", "config", "set", "kmsguard:keyRotationPeriodDays", "730", *TAIL],
        ["pulumi", "preview", "--policy-pack", str(PACK), *TAIL],
        ["pulumi", "config", "rm", "kmsguard:keyRotationPeriodDays", *TAIL],
        ["pulumi", "destroy", "--yes", *TAIL],
    ]
    first = calls[0]
    endpoint = first.env["AWS_ENDPOINT_URL"]
    assert endpoint.startswith("http://127.0.0.1:")
    # The provider deploys to the region the verifier probes, through this run's sandbox only.
    config = first.stack_file["config"]
    assert config["aws:region"] == "eu-west-3" == first.env["AWS_REGION"]
    assert config["aws:endpoints"] == [{s: endpoint for s in ("dynamodb", "iam", "kms", "sts")}]
    # Everything happens in a throw-away copy with its own backend, never in the repository.
    assert {c.cwd for c in calls} == {first.cwd} and first.cwd != REPO
    assert first.env["PULUMI_BACKEND_URL"] == (first.cwd / "backend").as_uri()


def test_stack_config_keeps_everything_but_endpoints_and_region() -> None:
    template = (REPO / "Pulumi.sandbox.yaml").read_text(encoding="utf-8")
    before = yaml.safe_load(template)["config"]
    after = yaml.safe_load(sandbox_stack_config(template, "http://127.0.0.1:1234", "ap-south-1"))
    changed = {k for k in before if before[k] != after["config"][k]}
    assert changed == {"aws:region", "aws:endpoints"}
    assert set(after["config"]) == set(before)


def test_stack_config_pins_the_sandbox_account() -> None:
    # The provider then checks the account it talks to, and the pack knows the key's account
    # during preview instead of deferring what depends on it.
    config = yaml.safe_load((REPO / "Pulumi.sandbox.yaml").read_text(encoding="utf-8"))["config"]
    assert config["aws:allowedAccountIds"] == [ACCOUNT_ID]
    assert config["aws:skipRequestingAccountId"] is False
    assert config["aws:endpoints"][0]["sts"].startswith("http://127.0.0.1:")


def test_keep_never_destroys_the_stack() -> None:
    calls: list[Call] = []
    run_with_cli(
        Console(file=io.StringIO()), region="us-east-1", keep=True, run=record_failing_runs(calls)
    )
    assert [c.argv[1] for c in calls] == ["stack", "config", "up", "config", "preview", "config"]
