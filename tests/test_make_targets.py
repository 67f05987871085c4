"""The Makefile's test targets: the environment and options their pytest runs with."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.journeys.commands import REPO

# Stands in for venv/bin/pytest: prints what the target gave it.
FAKE_PYTEST = """#!/bin/sh
echo "dont-write=[${PYTHONDONTWRITEBYTECODE-unset}] profile=$HYPOTHESIS_PROFILE args=$*"
"""


@pytest.mark.parametrize(
    ("target", "profile", "args"),
    [
        ("pytest", "ci", "-n auto --dist loadgroup"),
        ("test-fast", "dev", "-n auto --dist loadgroup -m not slow"),
    ],
)
def test_the_test_targets_write_bytecode_whatever_the_callers_environment(
    tmp_path: Path, target: str, profile: str, args: str
) -> None:
    (tmp_path / "pytest").write_text(FAKE_PYTEST)
    (tmp_path / "pytest").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    proc = subprocess.run(
        # -o: the virtualenv, lint and types are taken as they are; only the pytest line runs.
        ["make", "-s", "-o", "venv", "-o", "lint", "-o", "typecheck", f"BIN={tmp_path}", target],
        cwd=REPO,
        env=env | {"PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"dont-write=[] profile={profile} args={args}"]
