"""Run a project's entry point in this interpreter, as the Python language host would."""

from __future__ import annotations

import contextlib
import os
import runpy
import sys
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path

import pulumi

from kmsguard.preview.collect import ANSWERED_AS_UNKNOWN, ProgramRun, run_program
from kmsguard.preview.mocks import AwsMocks
from kmsguard.preview.project import Project


class ProgramFailed(RuntimeError):
    """The program raised or exited; the message names the file and line."""


@contextlib.contextmanager
def _as_language_host(project: Project) -> Iterator[None]:
    """The program's directory first on sys.path and as the working directory; modules it
    imports from there are forgotten afterwards so the next program gets its own."""
    before = set(sys.modules)
    old_path = list(sys.path)
    old_cwd = os.getcwd()
    sys.path.insert(0, str(project.main.parent))
    os.chdir(project.directory)
    try:
        # The program's prints are diagnostics; stdout carries the report (and --json -).
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path
        root = project.directory
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None)
            if file and Path(file).resolve().is_relative_to(root):
                del sys.modules[name]


def _where(exc: BaseException, project: Project) -> str:
    """`file:line` of the innermost frame in the program's own files."""
    found = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename)
        if path.is_absolute() and path.resolve().is_relative_to(project.directory):
            found = f"{path}:{frame.lineno}"
    return found or str(project.main)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, pulumi.RunError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    notes = [n for n in getattr(exc, "__notes__", []) if n.startswith(ANSWERED_AS_UNKNOWN)]
    text = "; ".join(line.strip() for line in text.splitlines() if line.strip())
    return text + "".join(f" ({n})" for n in notes)


def run_project(
    project: Project, *, preview: bool, extra_config: Mapping[str, str] | None = None
) -> ProgramRun:
    """The project's program under recording mocks; ProgramFailed if it raises or exits."""

    def program() -> None:
        try:
            runpy.run_path(str(project.main), run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (None, 0):
                raise ProgramFailed(f"the program exited (sys.exit({exc.code!r}))") from None

    config = {**project.program_config(), **(extra_config or {})}
    mocks = AwsMocks(account_id=project.account_id, region=project.region)
    try:
        with _as_language_host(project):
            return run_program(
                config,
                preview=preview,
                stack=project.stack,
                mocks=mocks,
                program=program,
                project=project.name,
                secret_keys=project.secret_keys,
            )
    except ProgramFailed as exc:
        raise ProgramFailed(f"{project.main}: {exc}") from None
    except Exception as exc:
        raise ProgramFailed(
            f"{_where(exc, project)}: the program raised {_describe(exc)}"
        ) from None
