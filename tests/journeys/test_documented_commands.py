"""Every command of the README, the docs/ pages and the workflow, run as typed from the root.

The repository under test is the user's layout: a clone with `venv/` inside it, as `make`
creates it (CI runs `make test` on a fresh clone). Each command runs through bash in a user's
environment (no virtualenv activated) with the exit status and output the document states.
Commands run elsewhere (a clean virtualenv, a program of one's own) are in test_wheel.py;
those that cannot run here are listed below with the reason.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.journeys.commands import (
    DOCS,
    README,
    REPO,
    Command,
    commands_in,
    documented_commands,
    page_text,
    pages,
    workflow_commands,
)
from tests.journeys.shell import as_make_runs_it, one_line_error, sh
from tests.pulumi_cli import needs_pulumi_cli

# The Pulumi CLI against AWS, Pulumi Cloud or an organization: no account, backend or CLI here.
# Where the CLI is installed (CI), each is checked against the CLI's own help (the subcommand
# exists and takes every flag used); the real runs against a sandbox are tests/preview and
# tests/component (`pulumi preview --policy-pack`, `pulumi install`).
CLI_ONLY: dict[str, tuple[str, str]] = {
    "pulumi config set kmsguard:grantTestUserKeyAccess true": ("config set", "a selected stack"),
    "pulumi config set --path 'kmsguard:keyUsers[0]' arn:aws:iam::111122223333:role/app": (
        "config set",
        "a selected stack",
    ),
    "(cd policies && pulumi policy publish my-org)": ("policy publish", "a Pulumi Cloud org"),
    "pulumi policy group new production --org my-org --entity-type stacks --yes": (
        "policy group new",
        "a Pulumi Cloud org",
    ),
    "pulumi policy group edit production --org my-org --add-stack kmsguard/prod": (
        "policy group edit",
        "a Pulumi Cloud org",
    ),
    "pulumi policy validate-config my-org/kmsguard-policies 0.1.0 --config production.json": (
        "policy validate-config",
        "a published pack",
    ),
    "pulumi policy enable my-org/kmsguard-policies 0.1.0 --policy-group production "
    "--config production.json": ("policy enable", "a published pack"),
    "pulumi preview --policy-pack policies --policy-pack-config production.json": (
        "preview",
        "a stack with AWS credentials",
    ),
    "pulumi package add https://github.com/my-org/kmsguard/provider@v0.1.0": (
        "package add",
        "a tagged release on GitHub",
    ),
    "pulumi package add ../kmsguard/provider": ("package add", "a program of one's own"),
    "pulumi install": ("install", "the provider's plugin toolchain"),
    "pulumi stack init dev": ("stack init", "a backend (pulumi login)"),
    "pulumi config set aws:region eu-west-1": ("config set", "a selected stack"),
    "pulumi preview --policy-pack ../../policies": ("preview", "a stack with AWS credentials"),
    "pulumi preview --policy-pack policies": ("preview", "a stack with AWS credentials"),
    "pulumi up --policy-pack policies && venv/bin/python -m verification --stack dev": (
        "up",
        "an AWS account",
    ),
    "pulumi up --policy-pack policies": ("up", "an AWS account"),
    "pulumi login": ("login", "a Pulumi Cloud account"),
    "pulumi destroy && pulumi stack rm dev": ("destroy", "a deployed stack"),
    "pulumi version": ("version", "nothing: CI's check that the CLI installed"),
}

# Neither run nor checked here, and why.
NOT_HERE: dict[str, str] = {
    "make test": "it is this test suite: `.ci/run` runs it on a fresh clone",
    "twine upload --repository-url https://pypi.example.com/ dist/kmsguard-0.1.0*": (
        "uploads to an organization's package index (an example URL; no network here)"
    ),
}

# Run by tests/journeys/test_wheel.py, which builds the wheel and the virtualenvs once.
ELSEWHERE: set[str] = {
    "make dist",
    "python3 -m venv venv",
    "venv/bin/python -m pip install -q --upgrade pip",
    "venv/bin/pip install 'kmsguard[preview]' -r ../kmsguard/policies/requirements.txt",
    "venv/bin/kmsguard-preview --stack dev --policy-pack ../kmsguard/policies --sarif "
    "kmsguard.sarif",
    "venv/bin/kmsguard-preview --program infra/ --stack prod --config aws:region=eu-west-1 "
    "--policy-pack policies/ --policy-pack ../org-pack/ --json report.json",
}


@dataclass(frozen=True)
class Journey:
    """What a command must do: its exit status, lines it prints, files it writes."""

    code: int
    stdout: tuple[str, ...] = ()
    stderr: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()  # repository-relative files, removed afterwards
    env: dict[str, str] = field(default_factory=dict)
    check: Callable[[subprocess.CompletedProcess[str]], None] | None = None
    then: str = ""  # a command after it in the same shell, to see its effect
    untouched: tuple[str, ...] = ()  # repository-relative files it must not write


def _demo_sample() -> tuple[str, ...]:
    """The lines of the README's `make demo` sample that are not (abridged) table rows."""
    sample = README.read_text(encoding="utf-8").split("prints at the end (abridged):\n\n```text\n")
    return tuple(ln for ln in sample[1].split("```", 1)[0].splitlines() if ln and ln[0] != " ")


def _production_json() -> str:
    text = page_text("docs/organization.md")
    return text.split("`production.json`, for example:\n\n```json\n", 1)[1].split("```", 1)[0]


def _one_json_array(proc: subprocess.CompletedProcess[str]) -> None:
    verdicts = json.loads(proc.stdout)
    assert {(v["phase"], v["mode"]) for v in verdicts} == {
        (p, m) for p in ("denied", "granted") for m in ("preview", "update")
    }


def _could_not_verify(proc: subprocess.CompletedProcess[str]) -> None:
    # No deployed stack here: "2 could not verify", said in one line (and no report written).
    assert one_line_error(proc).startswith("verification: ")


def _activated(proc: subprocess.CompletedProcess[str]) -> None:
    assert Path(proc.stdout.strip()) == REPO / "venv" / "bin" / "python"


RUNS: dict[str, Journey] = {
    "make demo": Journey(0, stdout=_demo_sample()),
    "make pack": Journey(0, stdout=("policy pack archive: dist/kmsguard-policies-0.1.0.tgz",)),
    ". venv/bin/activate": Journey(0, check=_activated, then="command -v python"),
    # docs/organization.md: the example file fails the program's 365-day rotation (make: Error 1).
    'make preview ARGS="--policy-config production.json"': Journey(
        2,
        stdout=("phase denied", "phase granted", "[mandatory] [kms-key-rotation-enabled]"),
        stderr=("Error 1",),
        writes=("production.json",),
    ),
    "cd examples/component-yaml": Journey(0),
    "venv/bin/python -m kmsguard.preview --program examples/public-key-policy --stack dev "
    "--sarif out.sarif": Journey(
        1,
        stdout=("kms-key-policy-no-public-principal", "stack-key-access-matches-declared"),
        writes=("out.sarif",),
    ),
    "make verify STACK=dev": Journey(2, check=_could_not_verify),
    "venv/bin/python -m verification --stack dev": Journey(2, check=_could_not_verify),
    "make venv": Journey(0),
    'echo "$PWD/venv/bin" >> "$GITHUB_PATH"': Journey(0),
    "venv/bin/kmsguard-preview --preview --sarif reports/kmsguard-preview.sarif": Journey(
        0, stdout=("phase denied", "phase granted"), writes=("reports/kmsguard-preview.sarif",)
    ),
    'venv/bin/python -m verification --stack "$PULUMI_STACK" --json reports/verification.json '
    "--junit-xml reports/verification.xml": Journey(
        2,
        env={"PULUMI_STACK": "dev"},
        check=_could_not_verify,
        untouched=("reports/verification.json", "reports/verification.xml"),
    ),
}

# Commands named in the prose of the pages: every phase and mode in one process, as `make preview`
# runs them, and (last) the preview command `make demo ARGS=--keep` prints, with its Python.
PROSE: dict[str, Journey] = {
    "make preview": Journey(0, stdout=("phase denied", "phase granted")),
    "make preview ARGS=--json": Journey(0, check=_one_json_array),
    "venv/bin/python -m kmsguard.preview --stack sandbox --phase granted": Journey(
        0, stdout=("phase granted",)
    ),
}


def _documented() -> list[Command]:
    return [c for c in documented_commands() + workflow_commands() if not c.output]


def test_every_documented_command_is_run_or_listed_with_its_reason() -> None:
    listed = set(RUNS) | set(CLI_ONLY) | set(NOT_HERE) | ELSEWHERE
    documented = {c.text for c in _documented()}
    unexercised = sorted(f"{c.source}: {c.text}" for c in _documented() if c.text not in listed)
    assert unexercised == [], "add each to RUNS (or, with the reason, to CLI_ONLY / NOT_HERE)"
    # No entry outlives its command.
    assert sorted(listed - documented) == []


def test_the_extraction_reads_every_kind_of_block() -> None:
    sample = (
        "```\nmake demo    # the story\nkms \\\n  --x 1\n```\n"
        "```text\nnot a command\n```\n```json\n{}\n```\n"
        "```\n$ venv/bin/python -m x\nout 1\n$ echo $?\n1\n```\n"
    )
    found = [(c.text, c.output) for c in commands_in(sample)]
    assert found == [
        ("make demo", ()),
        ("kms --x 1", ()),
        ("venv/bin/python -m x", ("out 1",)),
        ("echo $?", ("1",)),
    ]
    with pytest.raises(ValueError, match="commands or not"):
        commands_in("```ini\nx = 1\n```\n", "docs/x.md")
    assert [c.text for c in commands_in("```bash\nmake pack\n```\n")] == ["make pack"]


def test_commands_are_read_from_the_readme_and_every_docs_page() -> None:
    read = {c.source.split(":")[0] for c in documented_commands()}
    # Every page that shows a command block is read, the README's front page and docs/ alike.
    with_blocks = {
        p.relative_to(REPO).as_posix() for p in pages() if commands_in(p.read_text(), p.name)
    }
    assert read == with_blocks and "README.md" in read
    assert {"docs/evaluator.md", "docs/organization.md", "docs/aws-and-cli.md"} <= read
    assert set(pages()) == {README, *DOCS.glob("*.md")}
    with pytest.raises(ValueError, match=r"^docs/x\.md:1: a ```ini block"):
        commands_in("```ini\nx = 1\n```\n", "docs/x.md")


def _stamp(path: Path) -> int | None:
    return path.stat().st_mtime_ns if path.exists() else None


def _run(command: str, journey: Journey, tmp_path: Path) -> None:
    targets = [REPO / w for w in journey.writes]
    kept = [t for t in targets if t.exists()]
    if kept:
        pytest.skip(f"{kept[0]} exists in the checkout; the command would overwrite it")
    env = dict(journey.env)
    if "$GITHUB_PATH" in command:
        env["GITHUB_PATH"] = str(tmp_path / "github_path")
    if "production.json" in journey.writes:
        (REPO / "production.json").write_text(_production_json(), encoding="utf-8")
    try:
        if command == "make venv":
            stale = subprocess.run(["make", "-q", "venv/.installed"], cwd=REPO, check=False)
            if stale.returncode:
                pytest.skip(
                    "venv/ is older than requirements.txt or pyproject.toml: `make venv` would "
                    "reinstall it under the running tests (run it first)"
                )
        before = {u: _stamp(REPO / u) for u in journey.untouched}
        typed = as_make_runs_it(command) + (f" && {journey.then}" if journey.then else "")
        proc = sh(typed, REPO, env)
        assert proc.returncode == journey.code, (
            f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
        flat = " ".join(re.sub(r"[│┃]", " ", proc.stdout).split())
        for line in journey.stdout:
            assert " ".join(line.split()) in flat, line
        for line in journey.stderr:
            assert line in proc.stderr, line
        for target in targets:
            if target.name != "production.json":
                assert target.is_file(), target
        if journey.check is not None:
            journey.check(proc)
        assert {u: _stamp(REPO / u) for u in journey.untouched} == before
        if "$GITHUB_PATH" in command:
            assert (tmp_path / "github_path").read_text() == f"{REPO}/venv/bin\n"
    finally:
        for target in targets:
            target.unlink(missing_ok=True)


@pytest.mark.parametrize("command", sorted(RUNS))
def test_documented_command(command: str, tmp_path: Path) -> None:
    _run(command, RUNS[command], tmp_path)


@pytest.mark.parametrize("command", sorted(PROSE))
def test_command_named_in_the_prose(command: str, tmp_path: Path) -> None:
    if command.startswith("make"):
        assert any(f"`{command}" in p.read_text(encoding="utf-8") for p in pages()), command
    else:
        # The demo's source spells the command in adjacent string literals.
        source = re.sub(r'"\s*\n\s*"', "", (REPO / "demo" / "__main__.py").read_text())
        assert command.removeprefix("venv/bin/python") in source
    _run(command, PROSE[command], tmp_path)


def _normalized(line: str) -> str:
    # The prover names one witness of each kind; which `app-*` role it picks is the solver's.
    return " ".join(re.sub(r"(app-)[^/\s]*", r"\1*", line).split())


def test_every_transcript_prints_what_its_page_shows() -> None:
    transcripts: dict[str, list[Command]] = {}
    for c in documented_commands():
        if c.output:
            transcripts.setdefault(c.source, []).append(c)
    assert transcripts, "the documents' transcripts ($ lines) were not found"
    for source, commands in transcripts.items():
        # One shell session per block; a marker before each command's output keeps `$?`.
        script = "\n".join(
            f"__s=$?; echo '>>> {i}'; (exit $__s)\n{c.text}" for i, c in enumerate(commands)
        )
        proc = sh(script, REPO)
        outputs = proc.stdout.split(">>> ")[1:]
        assert len(outputs) == len(commands), (source, proc.stdout, proc.stderr)
        for c, out in zip(commands, outputs, strict=True):
            got = [_normalized(ln) for ln in out.splitlines()[1:] if ln.strip()]
            assert sorted(got) == sorted(_normalized(ln) for ln in c.output), (source, c.text)


@pytest.mark.cli
@needs_pulumi_cli("each documented pulumi command's subcommand and flags against the CLI's help")
@pytest.mark.parametrize("command", sorted(CLI_ONLY))
def test_cli_command_is_one_the_cli_takes(command: str) -> None:
    subcommand, _needs = CLI_ONLY[command]
    pulumi = shutil.which("pulumi")
    assert pulumi is not None
    proc = subprocess.run(
        [pulumi, *subcommand.split(), "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    invocation = re.search(r"pulumi [^&)]*", command)
    assert invocation is not None and invocation.group(0).startswith(f"pulumi {subcommand}")
    for flag in re.findall(r"(?<=\s)--[a-z][a-z-]*", invocation.group(0)):
        assert flag in proc.stdout, (command, flag)


def test_no_command_in_the_prose_needs_an_activated_virtualenv() -> None:
    # A bare `python -m kmsguard...` is another Python outside the virtualenv (no z3 there).
    text = "\n".join(p.read_text(encoding="utf-8") for p in pages())
    bare = re.findall(r"`(python3? -m [^`]*)`", text) + re.findall(
        r"`(kmsguard-preview[^`]*)`", text
    )
    # The console script's name is named as such; a command line gives its path.
    assert [b for b in bare if b != "kmsguard-preview"] == []
