"""A policy pack directory as the Pulumi CLI starts it: its PulumiPolicy.yaml (read once),
the environment it runs in, and why it did not start."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kmsguard.preview.yaml_file import read_yaml

REPO = Path(__file__).resolve().parents[2]
PACK_DIR = REPO / "policies"
NAME = "PulumiPolicy.yaml"


class PackFileError(ValueError):
    """PulumiPolicy.yaml is missing, is not YAML, or says what a policy pack cannot."""


@dataclass(frozen=True)
class PackFile:
    """What PulumiPolicy.yaml says, as the Pulumi CLI reads it."""

    pack_dir: Path
    runtime: Any  # the runtime's name as written (`runtime: python` or `runtime: {name: ...}`)
    virtualenv: str | None
    version: str  # "" when the file names none

    @property
    def path(self) -> Path:
        return self.pack_dir / NAME

    def python(self) -> str:
        """The interpreter the CLI starts the pack with: the virtualenv that
        `runtime.options.virtualenv` names (relative to the pack) when it exists, else this one."""
        if self.runtime != "python":
            raise PackFileError(
                f"{self.path}: runtime {self.runtime!r}: only Python packs (runtime: python) "
                "start here"
            )
        if self.virtualenv is not None:
            candidate = (self.pack_dir / self.virtualenv / "bin" / "python").absolute()
            if candidate.is_file():
                return str(candidate)
        return sys.executable

    def published_version(self) -> str:
        """The version `pulumi policy publish` publishes the pack as (it must name one)."""
        if not self.version:
            raise PackFileError(
                f"{self.path}: needs a `version` string, the version the pack is published as"
            )
        return self.version


def read_pack_file(pack_dir: Path) -> PackFile:
    """The pack directory's PulumiPolicy.yaml; PackFileError says what is wrong with it."""
    path = pack_dir / NAME
    data = read_yaml(path, PackFileError, missing="no such file; a policy pack directory has one")
    if not isinstance(data, dict):
        raise PackFileError(f"{path}: expected a mapping with runtime and version")
    runtime = data.get("runtime")
    options = runtime.get("options") if isinstance(runtime, dict) else None
    venv = options.get("virtualenv") if isinstance(options, dict) else None
    version = data.get("version")
    if version is not None and not isinstance(version, str):
        # YAML reads an unquoted 1.10 as the number 1.1, where the CLI reads the text 1.10.
        raise PackFileError(
            f"{path}: `version` must be a quoted string (YAML reads an unquoted 1.10 as the "
            f"number 1.1), not {version!r}"
        )
    return PackFile(
        pack_dir,
        runtime.get("name") if isinstance(runtime, dict) else runtime,
        venv if isinstance(venv, str) else None,
        version or "",
    )


def in_repo_pack_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment in which the CLI starts this repository's pack, as `make venv` sets up.

    The pack names no virtualenv (so it can be published), so the CLI runs it with the Python
    on PATH: this interpreter goes first. kmsguard is imported from this checkout, whether or
    not the virtualenv has it installed.
    """
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.pathsep.join(filter(None, [str(Path(sys.executable).parent), env.get("PATH")]))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


_NO_MODULE = re.compile(r"No module named '([A-Za-z0-9_.]+)'")


def start_failure(output: str, pack_dir: Path, python: str) -> str:
    """Why a pack did not start, in one line, from what it printed.

    A traceback is summed up by its exception; a pack's own message (the kmsguard pack names
    every missing requirement) is kept whole. A missing module also gets the command that
    installs the pack's requirements into the Python that runs it.
    """
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    if not lines:
        return "it exited without a word"
    if any(ln.startswith("Traceback (most recent call last)") for ln in lines):
        reason = lines[-1]
    else:
        reason = " ".join(lines)
    reason = reason[:1000]
    missing = sorted({m.split(".")[0] for m in _NO_MODULE.findall(output)})
    if missing and "pip install" not in reason:
        requirements = pack_dir / "requirements.txt"
        what = f"-r {requirements}" if requirements.is_file() else " ".join(missing)
        reason += (
            f" (missing: {', '.join(missing)}; install the pack's requirements into the Python "
            f"that runs it: {python} -m pip install {what})"
        )
    return reason
