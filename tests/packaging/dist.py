"""The kmsguard wheel and sdist, built once per test process by `make dist` as the README says."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import kmsguard
from tests.journeys.commands import REPO
from tests.journeys.shell import as_make_runs_it, sh

# Every module that uses the build runs in this xdist group, so one worker builds it once.
GROUP = "kmsguard-dist"


@dataclass(frozen=True)
class Dist:
    wheel: Path
    sdist: Path
    make: subprocess.CompletedProcess[str]


def build() -> Dist:
    """`make dist` in the repository (its dist/ is ignored by git), as a user runs it."""
    out = REPO / "dist"
    version = kmsguard.__version__
    wheel = out / f"kmsguard-{version}-py3-none-any.whl"
    sdist = out / f"kmsguard-{version}.tar.gz"
    for stale in (wheel, sdist):
        stale.unlink(missing_ok=True)
    proc = sh(as_make_runs_it("make dist"), REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert wheel.is_file() and sdist.is_file(), sorted(p.name for p in out.iterdir())
    return Dist(wheel=wheel, sdist=sdist, make=proc)
