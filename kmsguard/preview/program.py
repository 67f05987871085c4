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


def _installed(path: Path) -> bool:
    """A file of an installed distribution: under a site-packages directory, this interpreter's
    prefix, or any virtualenv (a directory holding pyvenv.cfg), wherever that virtualenv lies;
    `make venv` puts one inside the project."""
    if {"site-packages", "dist-packages"} & set(path.parts):
        return True
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    if any(path.is_relative_to(p) for p in prefixes):
        return True
    return any((parent / "pyvenv.cfg").is_file() for parent in path.parents)


_TOOL = Path(__file__).resolve().parent


def own_file(path: Path, project: Project) -> bool:
    """One of the program's own source files: under its project directory, neither installed
    nor kmsguard-preview's own (which lies in the project when the project is this repository)."""
    return (
        path.is_relative_to(project.directory)
        and not path.is_relative_to(_TOOL)
        and not _installed(path)
    )


@contextlib.contextmanager
def _as_language_host(project: Project) -> Iterator[None]:
    """The program's directory first on sys.path and as the working directory; the program's
    own modules it imports are forgotten afterwards, so the next run (another phase or mode,
    or another program) imports them afresh. Installed distributions stay imported: the SDKs
    register themselves once per process (pulumi_aws refuses a second registration)."""
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
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None)
            if file and own_file(Path(file).resolve(), project):
                del sys.modules[name]


def _where(exc: BaseException, project: Project) -> str:
    """`file:line` of the innermost frame in the program's own files, "" when none is."""
    found = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename)
        if path.is_absolute() and own_file(path.resolve(), project):
            found = f"{path}:{frame.lineno}"
    return found


def _raised_at(exc: BaseException) -> str:
    """`file:line` where the exception was raised (its innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


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
        where = _where(exc, project)
        if where:
            raise ProgramFailed(f"{where}: the program raised {_describe(exc)}") from None
        # No frame of the program's own files: the fault is not the program's.
        raise ProgramFailed(
            f"{project.main}: kmsguard-preview could not run the program: {_describe(exc)} "
            f"(raised at {_raised_at(exc)}, outside the program's files)"
        ) from None
