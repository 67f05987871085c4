"""Runs in one process: the program's own modules are imported afresh, installed ones once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kmsguard.preview.__main__ import main

ROOT = Path(__file__).resolve().parents[2]

# Imported from a virtualenv inside the project, as `make venv` puts one: like pulumi_aws, it
# refuses a second registration in one process.
REGISTERS_ONCE = """
import builtins
if getattr(builtins, "_registered_once", False):
    raise ValueError("Cannot re-register package registers_once")
builtins._registered_once = True
"""

IMPORTS_COUNTED = """
from pathlib import Path
log = Path(__file__).with_name("imports.log")
log.write_text(log.read_text() + "x" if log.exists() else "x")
"""


@pytest.fixture
def program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A compliant program that imports one installed module and one of its own."""
    dest = tmp_path / "program"
    shutil.copytree(ROOT / "examples" / "compliant-table", dest)
    site = dest / "venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (dest / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (site / "registers_once.py").write_text(REGISTERS_ONCE)
    (dest / "own_helpers.py").write_text(IMPORTS_COUNTED)
    main_py = dest / "__main__.py"
    main_py.write_text("import registers_once\nimport own_helpers\n" + main_py.read_text())
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delattr("builtins._registered_once", raising=False)
    yield dest
    for name in ("registers_once", "own_helpers"):
        sys.modules.pop(name, None)


def test_installed_modules_inside_the_project_stay_imported_across_runs(program, capsys):
    for _ in range(3):
        assert main(["--program", str(program), "--stack", "dev"]) == 0, capsys.readouterr().err
    # The program's own module ran once per run; the installed one was imported once.
    assert (program / "imports.log").read_text() == "xxx"
    assert "registers_once" in sys.modules and "own_helpers" not in sys.modules


# Run in its own process: a run broken inside the SDK's machinery leaves the process's
# event loops unusable for another run.
BREAK_THE_MOCKS = """
import sys
from kmsguard.preview.mocks import AwsMocks

def broken(self, args):
    raise RuntimeError("the mocks broke")

AwsMocks.new_resource = broken
from kmsguard.preview.__main__ import main

sys.exit(main(sys.argv[1:]))
"""


def test_a_fault_outside_the_program_does_not_blame_the_program(program, tmp_path):
    runner = tmp_path / "break_the_mocks.py"
    runner.write_text(BREAK_THE_MOCKS)
    proc = subprocess.run(
        [sys.executable, str(runner), "--program", str(program), "--stack", "dev"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(program / "venv/lib/python3.11/site-packages")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    err = proc.stderr.strip()
    assert proc.returncode == 2 and len(err.splitlines()) == 1, err
    assert "the program raised" not in err
    assert "kmsguard-preview could not run the program: " in err
    assert "the mocks broke" in err and "outside the program's files" in err
