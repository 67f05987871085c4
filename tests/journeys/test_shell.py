"""The environment the journeys run commands in: a user's shell, with pip told not to compile."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.journeys.shell import PIP_SETTINGS, user_env


def _wheel(directory: Path) -> Path:
    """A one-module wheel, written by hand so that nothing but pip itself runs."""
    files = {
        "tiny_module.py": "VALUE = 1\n",
        "tiny-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: tiny\nVersion: 0.1\n",
        "tiny-0.1.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    rows = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        rows.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    rows.append("tiny-0.1.dist-info/RECORD,,")
    path = directory / "tiny-0.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        archive.writestr("tiny-0.1.dist-info/RECORD", "\n".join(rows) + "\n")
    return path


def _install(wheel: Path, target: Path, env: dict[str, str]) -> list[str]:
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--target", str(target)]
    proc = subprocess.run(
        [*command, str(wheel)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return sorted(p.name for p in target.rglob("*.pyc"))


def test_pip_installs_without_byte_compiling(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    assert _install(wheel, tmp_path / "journey", user_env()) == []
    # The same install compiles by default, so the empty list above is the settings' doing.
    default = {k: v for k, v in user_env().items() if k not in PIP_SETTINGS}
    assert _install(wheel, tmp_path / "default", default) != []
