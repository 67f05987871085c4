"""The Makefile's user-facing targets print only what the command prints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_preview_json_writes_only_json_to_stdout() -> None:
    # -o: take the virtualenv as it is (never reinstall it from a test).
    done = subprocess.run(
        [
            *["make", "-o", "venv", "-o", "venv/.installed", "preview"],
            "ARGS=--json --phase denied --preview",
        ],
        cwd=ROOT,
        # As typed at a shell: under `make test` a nested make would announce its directory.
        env={k: v for k, v in os.environ.items() if k not in {"MAKELEVEL", "MAKEFLAGS", "MFLAGS"}},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["phase"] == "denied"
