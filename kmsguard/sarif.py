"""SARIF 2.1.0 logs for code-scanning UIs, built with the `sarif-pydantic` object model."""

# Why sarif-pydantic rather than sarif-om: sarif-om (Microsoft, last release 1.0.4 in 2019) is
# untyped attrs classes with no validation and no serialiser of its own (its defaults such as
# rank=-1 leak into hand-rolled JSON); sarif-pydantic (released through 2025) is typed pydantic
# v2 models of SARIF 2.1.0 that validate on construction, parse logs back, and serialise with the
# schema's camelCase names. pydantic is already a dependency of the toolchain here.

from __future__ import annotations

import bisect
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sarif_pydantic import (
    ArtifactLocation,
    Level,
    Location,
    LogicalLocation,
    Message,
    PhysicalLocation,
    Region,
    ReportingConfiguration,
    ReportingDescriptor,
    Result,
    Run,
    Sarif,
    Tool,
    ToolDriver,
)

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"

# Pulumi enforcement levels as SARIF levels: a mandatory violation fails the check.
LEVELS: Mapping[str, str] = {
    "mandatory": "error",
    "remediate": "error",
    # A finding the pack fixed on the way to deployment (level remediate): the source still
    # says otherwise, which is worth a warning, not a failed check.
    "remediated": "warning",
    "advisory": "warning",
    "disabled": "none",
}
# GitHub code scanning reads `security-severity` (0.0-10.0) to rank security alerts.
SECURITY_SEVERITY: Mapping[str, str] = {
    "critical": "9.5",
    "high": "8.0",
    "medium": "5.5",
    "low": "3.0",
}


@dataclass(frozen=True)
class Rule:
    id: str
    short: str
    full: str
    help: str
    level: str  # enforcement level: mandatory, advisory, ...
    severity: str = ""  # low, medium, high, critical
    help_uri: str = ""
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    rule_id: str
    level: str  # enforcement level
    message: str
    path: Path | None = None  # source file; relative to the root when under it
    line: int | None = None
    logical_name: str = ""  # e.g. the resource URN
    logical_kind: str = ""  # e.g. the resource type
    properties: Mapping[str, Any] = field(default_factory=dict)
    # partialFingerprints: the result's identity across runs, for code scanning to track it.
    fingerprints: Mapping[str, str] = field(default_factory=dict)


def repository_root(start: Path) -> Path | None:
    """The top level of the git work tree holding `start` (a directory with `.git`, a directory
    in a clone or a file in a worktree), or None outside any."""
    here = start.resolve()
    for directory in (here, *here.parents):
        if (directory / ".git").exists():
            return directory
    return None


def sarif_root(given: str | None, start: Path) -> Path:
    """Where artifact URIs are relative to: `--sarif-root` when given, else the repository's top
    level (as code-scanning UIs map them), else the current directory."""
    if given:
        root = Path(given)
        if not root.is_dir():
            raise ValueError(f"--sarif-root {given}: no such directory")
        return root
    return repository_root(start) or Path.cwd()


_WS = re.compile(r"[ \t\n\r]*")


def statement_lines(text: str) -> list[int]:
    """The 1-based line on which each statement of a policy document starts (its index in
    `Statement`; one entry when `Statement` is a single object), [] when the text is not a
    JSON object. Each value is decoded once, so the cost is linear in the text."""
    decoder = json.JSONDecoder()
    starts: list[int] = []
    try:
        i = _WS.match(text, 1 if text.startswith("\ufeff") else 0).end()  # type: ignore[union-attr]
        if text[i : i + 1] != "{":
            return []
        i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
        while text[i : i + 1] == '"':
            key, i = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
            i = _WS.match(text, i).end()  # type: ignore[union-attr]
            if text[i : i + 1] != ":":
                return []
            i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
            if key == "Statement":
                # The last "Statement" wins, as for json.loads.
                starts, i = _elements(decoder, text, i)
            else:
                i = decoder.raw_decode(text, i)[1]
            i = _WS.match(text, i).end()  # type: ignore[union-attr]
            if text[i : i + 1] == ",":
                i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
    except (ValueError, IndexError, RecursionError):
        return []
    newlines = [n for n, ch in enumerate(text) if ch == "\n"]
    return [bisect.bisect_left(newlines, at) + 1 for at in starts]


def _elements(decoder: json.JSONDecoder, text: str, i: int) -> tuple[list[int], int]:
    if text[i : i + 1] != "[":
        return [i], decoder.raw_decode(text, i)[1]
    starts: list[int] = []
    i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
    if text[i : i + 1] == "]":
        return starts, i + 1
    while True:
        starts.append(i)
        i = _WS.match(text, decoder.raw_decode(text, i)[1]).end()  # type: ignore[union-attr]
        if text[i : i + 1] == "]":
            return starts, i + 1
        if text[i : i + 1] != ",":
            raise ValueError("expected , or ]")
        i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]


def _short(text: str) -> str:
    first = text.strip().split("\n", 1)[0]
    return first if len(first) <= 200 else first[:197] + "..."


def _uri(path: Path, root: Path) -> tuple[str, str | None]:
    """A repository-relative URI (with %SRCROOT%) when the file is under `root`."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix(), SRCROOT
    except ValueError:
        return resolved.as_uri(), None


def _rule(rule: Rule) -> ReportingDescriptor:
    properties: dict[str, Any] = {
        "enforcementLevel": rule.level,
        **dict(rule.properties),
    }
    if rule.severity:
        properties["severity"] = rule.severity
        if rule.severity in SECURITY_SEVERITY:
            properties["security-severity"] = SECURITY_SEVERITY[rule.severity]
    return ReportingDescriptor(
        id=rule.id,
        name=rule.id,
        short_description=Message(text=_short(rule.short or rule.id)),
        full_description=Message(text=rule.full or rule.short or rule.id),
        help=Message(text=rule.help or rule.full or rule.id),
        help_uri=rule.help_uri or None,
        default_configuration=ReportingConfiguration(level=LEVELS.get(rule.level, "warning")),
        properties=properties,
    )


def _result(f: Finding, index: Mapping[str, int], root: Path) -> Result:
    locations: list[Location] = []
    physical = None
    if f.path is not None:
        uri, base = _uri(f.path, root)
        physical = PhysicalLocation(
            artifact_location=ArtifactLocation(uri=uri, uri_base_id=base),
            region=Region(start_line=f.line) if f.line else None,
        )
    logical = (
        [LogicalLocation(fully_qualified_name=f.logical_name, kind=f.logical_kind or None)]
        if f.logical_name
        else None
    )
    if physical is not None or logical:
        locations.append(Location(physical_location=physical, logical_locations=logical))
    return Result(
        rule_id=f.rule_id,
        rule_index=index.get(f.rule_id),
        level=Level(LEVELS.get(f.level, "warning")),
        message=Message(text=f.message),
        locations=locations or None,
        partial_fingerprints=dict(f.fingerprints) or None,
        properties=dict(f.properties) or None,
    )


def build(
    tool: str,
    version: str,
    rules: Sequence[Rule],
    findings: Iterable[Finding],
    *,
    root: Path,
    properties: Mapping[str, Any] | None = None,
) -> Sarif:
    """One run of `tool`: every rule (reported or not) and one result per finding."""
    unique: dict[str, Rule] = {}
    for r in rules:
        unique.setdefault(r.id, r)
    index = {rid: i for i, rid in enumerate(unique)}
    run = Run(
        tool=Tool(
            driver=ToolDriver(
                name=tool,
                version=version or None,
                rules=[_rule(r) for r in unique.values()],
            )
        ),
        results=[_result(f, index, root) for f in findings],
        properties=dict(properties) if properties else None,
    )
    return Sarif(version="2.1.0", schema_uri=SCHEMA_URI, runs=[run])


def to_json(log: Sarif) -> str:
    return log.model_dump_json(by_alias=True, exclude_none=True, indent=2) + "\n"


def write_whole(path: Path | str, text: str) -> None:
    """Write `text` to `path` whole or not at all: a temporary file beside it, then a rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a report is for readers
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
