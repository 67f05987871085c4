"""The suite's order: slow end-to-end modules first, each module's tests together and in order."""

from __future__ import annotations

import subprocess
import sys

from tests.journeys.commands import REPO


def test_slow_modules_are_collected_first_and_modules_stay_whole() -> None:
    fast, slow = "tests/test_make_targets.py", "tests/sandbox/test_sandbox_load.py"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-p", "no:xdist", fast, slow],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    ids = [line for line in proc.stdout.splitlines() if "::" in line]
    modules = [i.split("::")[0] for i in ids]
    assert modules[0] == slow and modules[-1] == fast
    # Each module once, as a block (module fixtures are built once per worker).
    blocks = [m for n, m in enumerate(modules) if n == 0 or modules[n - 1] != m]
    assert blocks == [slow, fast]
