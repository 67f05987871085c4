"""`python -m kmsguard.preview --help` says what every option does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.help_text import undocumented_options

ROOT = Path(__file__).resolve().parents[2]


def test_the_check_finds_an_option_without_text() -> None:
    text = "options:\n  -h, --help  show help\n  --json\n  --phase {a,b}\n      which phase\n"
    assert undocumented_options(text) == ["--json"]


def test_every_preview_option_has_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kmsguard.preview", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    for option in ("--phase", "--preview", "--update", "--config", "--policy-config", "--json"):
        assert option in done.stdout
    assert undocumented_options(done.stdout) == []
    assert "Exit 0" in done.stdout
