"""Under `--dist loadgroup`, every test of an `xdist_group` runs on one worker."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.journeys.commands import REPO

GROUPED = """
import os
import pytest

pytestmark = pytest.mark.xdist_group("shared")


@pytest.mark.parametrize("i", range(6))
def test_param(i):
    print("WORKER", os.environ["PYTEST_XDIST_WORKER"])


def test_plain():
    print("WORKER", os.environ["PYTEST_XDIST_WORKER"])
"""
OTHERS = """
import pytest


@pytest.mark.parametrize("i", range(6))
def test_other(i):
    pass
"""


def test_a_group_runs_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_others.py").write_text(OTHERS)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.xdist_groups",
            "-p",
            "no:cacheprovider",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-rA",
            "-q",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    workers = Counter(
        line.split()[1] for line in proc.stdout.splitlines() if line.startswith("WORKER ")
    )
    assert sum(workers.values()) == 7 and len(workers) == 1, (workers, proc.stdout[-3000:])


def test_grouped_modules_collect_without_xdist() -> None:
    """`-p no:xdist` (one process, for plain durations) still knows the marker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    options = ["-p", "no:xdist", "-p", "no:cacheprovider", "--collect-only", "-q"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *options, "tests/component/test_provider.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "xdist_group" in (REPO / "tests/component/test_provider.py").read_text()
