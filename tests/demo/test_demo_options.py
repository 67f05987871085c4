"""`python -m demo` options: clear refusals (exit 2, one line) and `--keep`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

import demo.cli
from demo.__main__ import main
from sandbox import SandboxStartError, running

REPO = Path(__file__).resolve().parents[2]


def demo_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "demo", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_engine_cli_without_pulumi_is_one_clear_line() -> None:
    no_pulumi = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    done = demo_cli("--engine", "cli", env=no_pulumi)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "demo: --engine cli needs the pulumi CLI on PATH (https://www.pulumi.com/docs/install/); "
        "without it, use --engine simulation (what --engine auto picks then)"
    )
    assert done.stdout == ""


def test_a_bad_region_is_named_before_anything_starts() -> None:
    done = demo_cli("--region", "mars-1", "--engine", "simulation")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "demo: argument --region: 'mars-1' is not an AWS region name (e.g. us-east-1, eu-west-3)"
    )
    assert done.stdout == ""


def test_a_sandbox_that_exits_at_once_is_not_reported_as_a_timeout() -> None:
    with pytest.raises(SandboxStartError) as err, running("mars-1"):
        pass
    assert str(err.value).startswith("sandbox exited with code 2 before it was ready: ")
    assert "'mars-1' is not an AWS region name" in str(err.value)


def test_a_failing_pulumi_command_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(*_: object, **__: object) -> int:
        raise subprocess.CalledProcessError(
            255,
            ["pulumi", "stack", "init", "sandbox", "--no-select", "--non-interactive"],
            stderr="warning: A new version of Pulumi is available\nerror: stack already exists",
        )

    monkeypatch.setattr(demo.cli, "run_with_cli", refuse)
    monkeypatch.setattr("demo.__main__.shutil.which", lambda name: f"/usr/bin/{name}")
    assert main(["--engine", "cli"]) == 2
    assert capsys.readouterr().err == (
        "demo: could not run: `pulumi stack init sandbox --no-select --non-interactive` failed "
        "(exit 255): error: stack already exists\n"
    )


def test_keep_leaves_the_deployment_up_for_the_verifier_until_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "demo", "--engine", "simulation", "--quiet", "--keep"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        said: dict[str, str] = {}
        for line in proc.stdout:
            key, _, value = line.strip().partition(": ")
            if key in ("sandbox endpoint", "outputs file"):
                said[key] = value.split()[0]
            if line.startswith("  export "):
                exports = dict(v.split("=", 1) for v in line.split()[1:])
            if " -m verification " in line:
                verify_line = line.strip()
                break
        outputs, endpoint = Path(said["outputs file"]), said["sandbox endpoint"]
        assert json.loads(outputs.read_text())["tableName"] == "kms-protected-table"
        assert verify_line.endswith(f"--outputs {outputs} --endpoint-url {endpoint}")
        # The user's second terminal: the verifier against the kept deployment passes.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        verified = subprocess.run(
            [
                *[sys.executable, "-m", "verification", "--outputs", str(outputs)],
                *["--endpoint-url", endpoint, "--json", str(tmp_path / "r.json")],
            ],
            cwd=REPO,
            env=env | exports,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr
        assert json.loads((tmp_path / "r.json").read_text())["status"] == "pass"
    finally:
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped: sandbox and deployment removed" in rest
    assert not outputs.exists()
    with pytest.raises(OSError):
        urllib.request.urlopen(endpoint, timeout=5)  # loopback: the sandbox is gone
