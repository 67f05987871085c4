"""The demo with the real Pulumi engine: `pulumi up --policy-pack policies` against the sandbox.

Used when `pulumi` is on PATH. Everything the CLI writes stays in a temporary directory: a
local file backend, a passphrase secrets provider, and a copy of the project whose
`Pulumi.sandbox.yaml` points at this run's sandbox port. The repo's files are never modified.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from sandbox import SandboxInfo, running
from verification import run as verify

REPO = Path(__file__).resolve().parent.parent
PACK = REPO / "policies"
PASSPHRASE = "kmsguard-demo-local-only"
STACK = "sandbox"


def sandbox_stack_config(template: str, endpoint_url: str) -> str:
    """Pulumi.sandbox.yaml with every endpoint moved to this run's sandbox."""
    return re.sub(r"http://127\.0\.0\.1:\d+", endpoint_url, template)


class PulumiCli:
    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pulumi", *args, "--non-interactive", "--stack", STACK],
            cwd=self.workdir,
            env=self.env,
            text=True,
            capture_output=True,
            check=check,
        )


def prepare(workdir: Path, sb: SandboxInfo) -> PulumiCli:
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
        sandbox_stack_config(template, sb.endpoint_url), encoding="utf-8"
    )
    backend = workdir / "backend"
    backend.mkdir()
    env = {
        **os.environ,
        **sb.environment(),
        "PULUMI_BACKEND_URL": backend.as_uri(),
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PYTHONPATH": str(REPO),
    }
    cli = PulumiCli(workdir, env)
    subprocess.run(
        ["pulumi", "stack", "init", STACK, "--non-interactive"],
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


def run_with_cli(console: Console, *, region: str) -> int:
    """Both phases with the real engine, then a weakening change the pack must block."""
    failures: list[str] = []
    with running(region) as sb, tempfile.TemporaryDirectory(prefix="kmsguard-demo-") as tmp:
        saved = dict(os.environ)
        os.environ.update(sb.environment())
        try:
            cli = prepare(Path(tmp), sb)
            key_ids = []
            for phase, granted in (("denied", "false"), ("granted", "true")):
                cli("config", "set", "kmsguard:grantTestUserKeyAccess", granted)
                console.print(f"phase {phase!r}: pulumi up --policy-pack policies", markup=False)
                up = cli("up", "--yes", "--policy-pack", str(PACK), check=False)
                console.print(up.stdout, markup=False, highlight=False)
                if up.returncode != 0:
                    failures.append(f"phase {phase}: pulumi up failed: {up.stderr.strip()}")
                    break
                out = outputs(cli)
                key_ids.append(out["keyId"])
                report = verify(out, endpoint_url=sb.endpoint_url, region=sb.region)
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
            cli("destroy", "--yes", check=False)
        finally:
            os.environ.clear()
            os.environ.update(saved)
    for failure in failures:
        console.print(f"FAIL: {failure}", markup=False, highlight=False)
    console.print("RESULT: " + ("PASS" if not failures else "FAIL"), markup=False)
    return 0 if not failures else 1
