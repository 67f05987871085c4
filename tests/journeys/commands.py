"""The commands a user is told to type: read from the README, the docs/ pages and the workflow."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = REPO / "docs"
WORKFLOW = REPO / ".github" / "workflows" / "kmsguard.yml"

# Fenced blocks without an info string (or a shell's) are command blocks; output samples say
# `text`. A block of any other kind must be classified here, so that none escapes unnoticed.
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```", re.S | re.M)
COMMAND_TAGS = frozenset({"", "sh", "bash", "shell", "console"})
OTHER_TAGS = frozenset({"text", "json", "typescript", "mermaid", "yaml", "python", "toml"})
_COMMENT = re.compile(r"\s+#\s.*$")


@dataclass(frozen=True)
class Command:
    """One command as the user types it, and what the document shows it printing."""

    text: str
    source: str  # "README.md:LINE", "docs/PAGE.md:LINE" or "kmsguard.yml:JOB"
    output: tuple[str, ...] = field(default=())


def _logical_lines(block: str) -> list[str]:
    """Lines of a block with backslash continuations joined and trailing comments removed."""
    out: list[str] = []
    pending = ""
    for raw in block.splitlines():
        line = pending + raw.strip() if pending else raw.rstrip()
        if line.endswith("\\"):
            pending = line[:-1].rstrip() + " "
            continue
        pending = ""
        out.append(_COMMENT.sub("", line).strip())
    return [ln for ln in out if ln]


def pages() -> list[Path]:
    """The documents a user reads: the README and every page of docs/."""
    return [README, *sorted(DOCS.glob("*.md"))]


def page_text(name: str) -> str:
    """A page's text by its repository-relative name, e.g. `docs/organization.md`."""
    return (REPO / name).read_text(encoding="utf-8")


def documented_commands() -> list[Command]:
    """The commands of every page (see `commands_in`), each with its page and line."""
    return [
        c
        for page in pages()
        for c in commands_in(page.read_text(encoding="utf-8"), page.relative_to(REPO).as_posix())
    ]


def commands_in(text: str, name: str = "README.md") -> list[Command]:
    """Every command of every untagged fenced block; `$ ` lines of a transcript, with the
    lines after each as its output."""
    commands: list[Command] = []
    for match in _FENCE.finditer(text):
        tag = match.group(1).strip()
        line_no = text.count("\n", 0, match.start()) + 1
        if tag not in COMMAND_TAGS:
            if tag not in OTHER_TAGS:
                raise ValueError(f"{name}:{line_no}: a ```{tag} block: commands or not?")
            continue
        lines = _logical_lines(match.group(2))
        if any(ln.startswith("$ ") for ln in lines):
            current: list[str] = []
            for ln in lines:
                if ln.startswith("$ "):
                    current = [ln[2:]]
                    commands.append(Command(ln[2:], f"{name}:{line_no}"))
                else:
                    current.append(ln)
                    last = commands[-1]
                    commands[-1] = Command(last.text, last.source, (*last.output, ln))
            continue
        commands.extend(Command(ln, f"{name}:{line_no}") for ln in lines)
    return commands


def workflow_commands() -> list[Command]:
    """The `run:` of every step of every job (folded scalars read as the runner reads them)."""
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return [
        Command(" ".join(step["run"].split()), f"kmsguard.yml:{job}")
        for job, spec in data["jobs"].items()
        for step in spec.get("steps", [])
        if "run" in step
    ]


def documented_command(startswith: str) -> Command:
    """The one documented command starting with `startswith` (a test of it runs its exact
    text)."""
    found = [c for c in documented_commands() if c.text.startswith(startswith)]
    assert len(found) == 1, f"documented commands starting with {startswith!r}: {found}"
    return found[0]
