"""The demo with the real Pulumi engine: `pulumi up --policy-pack policies` against the sandbox.

Used when `pulumi` is on PATH. Everything the CLI writes stays in a temporary directory: a
local file backend, a passphrase secrets provider, and a copy of the project whose
`Pulumi.sandbox.yaml` points at this run's sandbox port. The repo's files are never modified.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from demo.keep import hold, instructions, write_outputs
from kmsguard.preview.pack_dir import in_repo_pack_env
from sandbox import SandboxInfo, running
from verification import run as verify

REPO = Path(__file__).resolve().parent.parent
PACK = REPO / "policies"
PASSPHRASE = "kmsguard-demo-local-only"
STACK = "sandbox"


# `subprocess.run`'s shape: the real one, or a recorder in tests of the exact command lines.
Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def sandbox_stack_config(template: str, endpoint_url: str, region: str) -> str:
    """Pulumi.sandbox.yaml pointed at this run's sandbox: every endpoint and the provider region."""
    stack = yaml.safe_load(template)
    config = stack["config"]
    config["aws:region"] = region
    config["aws:endpoints"] = [
        {service: endpoint_url for service in endpoints} for endpoints in config["aws:endpoints"]
    ]
    return str(yaml.safe_dump(stack, sort_keys=False))


def stack_init_command(stack: str) -> list[str]:
    """`pulumi stack init` for a throw-away stack: the directory's current stack stays selected."""
    return ["pulumi", "stack", "init", stack, "--no-select", "--non-interactive"]


class PulumiCli:
    def __init__(self, workdir: Path, env: dict[str, str], run: Runner = subprocess.run) -> None:
        self.workdir = workdir
        self.env = env
        self.run = run

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(
            ["pulumi", *args, "--non-interactive", "--stack", STACK],
            cwd=self.workdir,
            env=self.env,
            text=True,
            capture_output=True,
            check=check,
        )


def prepare(workdir: Path, sb: SandboxInfo, run: Runner = subprocess.run) -> PulumiCli:
    """A throw-away copy of the project wired to `sb`, with its own backend and stack."""
    project = (REPO / "Pulumi.yaml").read_text(encoding="utf-8")
    # The copy uses the repo's virtualenv, so nothing is installed twice.
    project = project.replace("virtualenv: venv", f"virtualenv: {REPO / 'venv'}")
    (workdir / "Pulumi.yaml").write_text(project, encoding="utf-8")
    (workdir / "__main__.py").write_text(
        (REPO / "__main__.py").read_text(encoding="utf-8"), encoding="utf-8"
    )
    template = (REPO / "Pulumi.sandbox.yaml").read_text(encoding="utf-8")
    (workdir / "Pulumi.sandbox.yaml").write_text(
        sandbox_stack_config(template, sb.endpoint_url, sb.region), encoding="utf-8"
    )
    backend = workdir / "backend"
    backend.mkdir()
    env = {
        # The pack runs with the Python on PATH, this project's interpreter first.
        **in_repo_pack_env(),
        **sb.environment(),
        "PULUMI_BACKEND_URL": backend.as_uri(),
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }
    cli = PulumiCli(workdir, env, run)
    run(
        stack_init_command(STACK),
        cwd=workdir,
        env=env,
        text=True,
        capture_output=True,
        check=True,
    )
    return cli


def outputs(cli: PulumiCli) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(cli("stack", "output", "--json", "--show-secrets").stdout)
    return result


def run_with_cli(
    console: Console, *, region: str, keep: bool = False, run: Runner = subprocess.run
) -> int:
    """Both phases with the real engine, then a weakening change the pack must block.

    With `keep`, the stack is not destroyed: the demo waits for Ctrl-C with the sandbox up.
    """
    failures: list[str] = []
    with running(region) as sb, tempfile.TemporaryDirectory(prefix="kmsguard-demo-") as tmp:
        saved = dict(os.environ)
        os.environ.update(sb.environment())
        try:
            cli = prepare(Path(tmp), sb, run)
            key_ids = []
            deployed: dict[str, Any] = {}
            for phase, granted in (("denied", "false"), ("granted", "true")):
                cli("config", "set", "kmsguard:grantTestUserKeyAccess", granted)
                console.print(f"phase {phase!r}: pulumi up --policy-pack policies", markup=False)
                up = cli("up", "--yes", "--policy-pack", str(PACK), check=False)
                console.print(up.stdout, markup=False, highlight=False)
                if up.returncode != 0:
                    failures.append(f"phase {phase}: pulumi up failed: {up.stderr.strip()}")
                    break
                deployed = outputs(cli)
                key_ids.append(deployed["keyId"])
                report = verify(deployed, endpoint_url=sb.endpoint_url, region=sb.region)
                report.render(console)
                if report.exit_code != 0:
                    failures.append(f"phase {phase}: verification status {report.status}")
            if len(set(key_ids)) != 1:
                failures.append(f"the key changed between phases: {key_ids}")
            cli("config", "set", "kmsguard:keyRotationPeriodDays", "730")
            weak = cli("preview", "--policy-pack", str(PACK), check=False)
            if weak.returncode == 0 or "kms-key-rotation-enabled" not in weak.stdout + weak.stderr:
                failures.append("the pack did not block a 730-day rotation period")
            else:
                console.print(
                    "guardrail: kms-key-rotation-enabled blocked the change", markup=False
                )
            cli("config", "rm", "kmsguard:keyRotationPeriodDays")
            if not keep:
                cli("destroy", "--yes", check=False)
            _result(console, failures)
            if keep and deployed:
                hold(console, instructions(sb, write_outputs(Path(tmp), deployed), _pulumi(cli)))
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return 0 if not failures else 1


def _pulumi(cli: PulumiCli) -> list[str]:
    """How to run the real CLI against the kept stack from another terminal."""
    env = {k: cli.env[k] for k in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE")}
    return [
        "export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()),
        f"pulumi preview --cwd {shlex.quote(str(cli.workdir))} --stack {STACK} "
        f"--policy-pack {shlex.quote(str(PACK))}",
    ]


def _result(console: Console, failures: list[str]) -> None:
    for failure in failures:
        console.print(f"FAIL: {failure}", markup=False, highlight=False)
    console.print("RESULT: " + ("PASS" if not failures else "FAIL"), markup=False)
