"""A rule's finding as data, and the one renderer of its message, deferral and JSON forms."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
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


@dataclass(frozen=True)
class Reported:
    """A finding as one diagnostic carried it: a rule's advice and deferrals travel together in
    one diagnostic, each marked whether it was deferred to verification."""

    finding: Finding
    deferred: bool = False


# What a witness may cost a report: values visited, characters of one string.
WITNESS_VALUES = 10_000
WITNESS_STRING = 64 * 1024
WITNESS_DEPTH = 64
ELIDED = "…"


def jsonable(value: Any) -> Any:
    """`value` as plain JSON data, in time linear in what is kept: mappings with string keys,
    sequences and sets as lists (sets sorted), non-finite floats and other objects as their
    text; a cycle, nesting deeper than WITNESS_DEPTH, a string over WITNESS_STRING characters
    and values beyond the first WITNESS_VALUES are cut and marked with ELIDED."""
    budget = [WITNESS_VALUES]

    def walk(v: Any, path: frozenset[int]) -> Any:
        if budget[0] <= 0:
            return ELIDED
        budget[0] -= 1
        if v is None or isinstance(v, bool | int):
            return v
        if isinstance(v, float):
            return v if math.isfinite(v) else str(v)
        if isinstance(v, str):
            return v if len(v) <= WITNESS_STRING else v[:WITNESS_STRING] + ELIDED
        if id(v) in path or len(path) >= WITNESS_DEPTH:
            return ELIDED
        inner = path | {id(v)}
        if isinstance(v, Mapping):
            out: dict[str, Any] = {}
            for k, x in v.items():
                if budget[0] <= 0:
                    out[ELIDED] = ELIDED
                    break
                out[_key(k)] = walk(x, inner)
            return out
        if isinstance(v, list | tuple | set | frozenset):
            items = sorted(v, key=repr) if isinstance(v, set | frozenset) else v
            kept: list[Any] = []
            for x in items:
                if budget[0] <= 0:
                    kept.append(ELIDED)
                    break
                kept.append(walk(x, inner))
            return kept
        try:
            text = str(v)
        except Exception:
            text = f"<{type(v).__name__}>"
        return walk(text, path)

    return walk(value, frozenset())


def _key(k: Any) -> str:
    text = k if isinstance(k, str) else str(k)
    return text if len(text) <= WITNESS_STRING else text[:WITNESS_STRING] + ELIDED


def fingerprint(rule: str, codes: Sequence[str], where: str) -> str:
    """A result's identity across runs: its rule, codes and resource, not its wording."""
    text = "\x1f".join([rule, *codes, where])
    return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()


def report_fields(found: Sequence[Reported]) -> dict[str, Any]:
    """What a report (JSON, SARIF properties) says of the findings behind one diagnostic: the
    code and witness of its one finding (null when no finding is known), or each finding's
    when the diagnostic carries several."""
    if len(found) == 1:
        f = found[0].finding
        return {"code": f.code, "witness": dict(f.witness)}
    out: dict[str, Any] = {"code": None, "witness": None}
    if found:
        out["findings"] = [to_json(r.finding, deferred=r.deferred) for r in found]
    return out


# The partialFingerprints key of kmsguard's results (versioned: a new recipe, a new key).
FINGERPRINT = "kmsguardFinding/v1"


def fingerprints(found: Sequence[Reported], where: str) -> dict[str, str]:
    """A SARIF result's partialFingerprints: from its rule, codes and resource (each finding's
    own resource when it names one, else `where`); none when no finding is known."""
    if not found:
        return {}
    rule = found[0].finding.rule
    parts = [f"{r.finding.code}@{r.finding.urn or r.finding.resource or where}" for r in found]
    return {FINGERPRINT: fingerprint(rule, parts, where)}
