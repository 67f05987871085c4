"""A pack that cannot start is reported in one line: what is missing and how to install it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kmsguard.preview.__main__ import main

ROOT = Path(__file__).resolve().parents[2]

# What the kmsguard pack prints when its requirements are absent (policies/__main__.py).
OWN_MESSAGE = """
import sys
sys.stderr.write(
    "kmsguard policy pack: missing Python package(s): moto, pulumi-policy.\\n"
    "Install the pack's requirements into the Python that runs it:\\n"
    "  python -m pip install -r requirements.txt\\n"
)
raise SystemExit(1)
"""


def _pack(tmp_path: Path, main_py: str, requirements: str | None) -> Path:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\nversion: 1.0.0\n")
    (pack / "__main__.py").write_text(main_py)
    if requirements is not None:
        (pack / "requirements.txt").write_text(requirements)
    return pack


def _error(capsys, pack: Path) -> str:
    program = ROOT / "examples" / "compliant-table"
    code = main(["--program", str(program), "--stack", "dev", "--policy-pack", str(pack)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"kmsguard-preview: error: policy pack at {pack} did not start: ")
    return err


def test_the_packs_own_message_is_kept_whole(tmp_path, capsys):
    err = _error(capsys, _pack(tmp_path, OWN_MESSAGE, "moto>=5,<6\n"))
    assert "missing Python package(s): moto, pulumi-policy." in err
    assert "python -m pip install -r requirements.txt" in err


@pytest.mark.parametrize("requirements", ["kmsguard-absent-module>=1,<2\n", None])
def test_a_missing_module_is_named_with_the_install_command(tmp_path, capsys, requirements):
    pack = _pack(tmp_path, "import kmsguard_absent_module\n", requirements)
    err = _error(capsys, pack)
    assert "ModuleNotFoundError: No module named 'kmsguard_absent_module'" in err
    what = f"-r {pack / 'requirements.txt'}" if requirements else "kmsguard_absent_module"
    assert "missing: kmsguard_absent_module; install the pack's requirements" in err
    assert f"{sys.executable} -m pip install {what}" in err
