"""A rule's finding as data, and the one renderer of its message, deferral and JSON forms."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The words the pack's deferral starts with, which the preview and the audit recognise.
DEFERRED = "deferred to verification"
ADVISORY = "advisory"
DEFERRED_PREFIX = f"{DEFERRED}: "
ADVISORY_PREFIX = f"{ADVISORY}: "
# A code names one kind of finding of one rule, stable across releases: lower-case kebab-case.
CODE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Finding:
    """What a rule found: which rule, which kind (`code`), on what, the words and the facts.

    `resource` is the resource as the message names it (`Key 'k'`, empty when the finding is
    about no one resource), `detail` the human sentence after it, `witness` the facts behind it
    (values read, limits applied) as JSON-ready data; `urn` is the resource the engine attaches
    the diagnostic to when it is not the one under validation.
    """

    rule: str
    code: str
    resource: str
    detail: str
    witness: Mapping[str, Any] = field(default_factory=dict)
    urn: str | None = None

    def __post_init__(self) -> None:
        if not CODE.match(self.code):
            raise ValueError(f"finding code {self.code!r} is not kebab-case (e.g. 'key-unknown')")


def message(f: Finding) -> str:
    """The diagnostic's text, as users read it: `<resource>: <detail>`."""
    return f"{f.resource}: {f.detail}" if f.resource else f.detail


def deferral(deferred: list[str], advice: list[str]) -> str:
    """The text of a rule's advisory diagnostic: its advice, then what it leaves to verification
    (the SDK prefixes it with "can't run policy ... during preview: ")."""
    parts = [ADVISORY_PREFIX + "; ".join(advice)] if advice else []
    if deferred:
        parts.append(DEFERRED_PREFIX + "; ".join(deferred))
    return "; ".join(parts)


def to_json(f: Finding, *, deferred: bool = False) -> dict[str, Any]:
    """The finding as JSON: rule, code, resource, message, witness (and whether it defers)."""
    out: dict[str, Any] = {
        "rule": f.rule,
        "code": f.code,
        "resource": f.resource,
        "message": message(f),
        "witness": dict(f.witness),
    }
    if f.urn is not None:
        out["urn"] = f.urn
    if deferred:
        out["deferred"] = True
    return out
