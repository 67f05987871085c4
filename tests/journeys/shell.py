"""Commands run as a user runs them: through bash, without this test process's environment."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from tests.journeys.commands import REPO

TIMEOUT = 900

# Set by the test runner or a parent make, never by a user's shell.
_NOT_A_USERS = ("VIRTUAL_ENV", "PYTHONPATH", "MAKELEVEL", "MAKEFLAGS", "MFLAGS", "PYTHONHOME")

# Installs without byte-compiling the thousands of SDK modules (each process compiles what it
# imports); the commands themselves are unchanged. pip reads `PIP_<option>` as the option's
# value: PIP_NO_COMPILE=1 would set `--no-compile`'s destination, `compile`, to true.
PIP_SETTINGS = {"PIP_COMPILE": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def user_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment as a user's shell has it: no virtualenv activated (the repository's
    venv/bin is not on PATH, so a bare `python` is not the project's), nothing from pytest."""
    venv_bin = (REPO / "venv" / "bin").resolve()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _NOT_A_USERS and not k.startswith(("PYTEST_", "COV_"))
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and Path(p).resolve() != venv_bin
    )
    env.update(PIP_SETTINGS)
    env.update(extra or {})
    return env


def sh(
    command: str, cwd: Path, extra_env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`command` typed at a bash prompt in `cwd`."""
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=user_env(extra_env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def as_make_runs_it(command: str) -> str:
    """`make TARGET ...` with the virtualenv taken as it is: when venv/ is current (as the gate
    leaves it) this is the command as typed; a stale one is never reinstalled under the tests."""
    if command.startswith("make ") and not command.startswith("make venv"):
        return "make -o venv -o venv/.installed " + command.removeprefix("make ")
    return command


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The stderr of a refused command: one line, no traceback."""
    err = proc.stderr.strip()
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if not ln.startswith("make: ***")]
    assert len(lines) == 1, err
    return lines[0]
