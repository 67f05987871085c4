"""Strict parsing of IAM policy documents into immutable, pre-compiled `Policy` objects."""

from __future__ import annotations

import json
import marshal
from collections.abc import Mapping
from typing import Any

from kmsguard.access.clauses import ConditionClause
from kmsguard.access.errors import PolicyDocumentError
from kmsguard.access.policy_cache import (
    PARSED,
    clear_caches,
    remember,
    remember_object,
    seen_before,
)
from kmsguard.access.policy_elements import kind_of
from kmsguard.access.policy_model import (
    KINDS,
    VERSIONS,
    Policy,
    PolicyKind,
    canonical_json,
    new_policy,
)
from kmsguard.access.principal_element import ACCOUNT_MATCH, DIRECT_MATCH, NO_MATCH, PrincipalSpec
from kmsguard.access.statement import Statement, fill
from kmsguard.access.statement_parse import lenient_statement, quick_statement, read_statement

__all__ = [
    "ACCOUNT_MATCH",
    "DIRECT_MATCH",
    "KINDS",
    "NO_MATCH",
    "VERSIONS",
    "ConditionClause",
    "Policy",
    "PolicyKind",
    "PrincipalSpec",
    "Statement",
    "clear_caches",
    "parse_policy",
    "seen_before",
]

_TOP_KEYS = ("Version", "Id", "Statement")


_TOP_SET = frozenset(_TOP_KEYS)


def parse_policy(
    doc: str | bytes | Mapping[str, Any] | Policy, *, kind: PolicyKind, tolerant: bool = False
) -> Policy:
    """Validate and compile a policy document (JSON text or mapping); raise PolicyDocumentError.

    `tolerant`: a malformed document is not refused but read as far as it goes, with what is
    wrong in `problems` (one per statement, at most): for callers that report every problem.
    """
    if tolerant:
        try:
            return parse_policy(doc, kind=kind)
        except PolicyDocumentError as exc:
            if isinstance(doc, Policy):
                raise
            return _tolerant(doc, kind, exc)
    seen = seen_before(doc, kind)
    if seen is not None:
        return seen
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if doc.__class__ is dict:
        pass  # the common case, read below
    elif isinstance(doc, Policy):
        if doc.kind != kind:
            raise PolicyDocumentError("", f"expected a {kind} policy, got a {doc.kind} policy")
        if doc.problems:
            raise doc.problems[0]
        return doc
    elif isinstance(doc, str | bytes | bytearray):
        try:
            text = doc.decode() if isinstance(doc, bytes | bytearray) else doc
            cached = PARSED.get((text, kind))
            if cached is not None:
                return cached[1]
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise PolicyDocumentError("", f"not JSON: {exc}") from None
        policy = _parse(data, kind, data)
        remember(text, kind, data, policy)
        return policy
    try:
        # marshal (format 0: no shared references, no interning marks) copies plain dicts,
        # lists, strings and numbers in C at a third of a JSON round trip; its bytes key the
        # cache. Anything else (subclasses, other mappings, cycles) is read in place.
        packed = marshal.dumps(doc, 0)  # type: ignore[arg-type]  # refused if not plain
    except (ValueError, RecursionError):
        return _parse(doc, kind, None)
    found = PARSED.get((packed, kind))
    # The comparison rules out documents that only share their bytes (none known; cheap).
    if found is not None and found[0] == doc:
        remember_object(doc, kind, found[0], found[1])
        return found[1]
    snapshot = marshal.loads(packed)
    if snapshot != doc:
        # NaN, which equals nothing: read in place.
        return _parse(doc, kind, None)
    policy = _parse(snapshot, kind, snapshot)
    remember(packed, kind, snapshot, policy)
    remember_object(doc, kind, snapshot, policy)
    return policy


def _parse(data: Any, kind: PolicyKind, private: Any) -> Policy:
    """`private`: `data` itself when it is a JSON-decoded copy nobody else holds, else None."""
    if not isinstance(data, Mapping):
        raise PolicyDocumentError(
            "", f"a policy document must be a JSON object, not {kind_of(data)}"
        )
    for key in data if not data.keys() <= _TOP_SET else ():
        if key not in _TOP_KEYS:
            raise PolicyDocumentError(
                str(key), f"unknown top-level key {key!r}; allowed: {', '.join(_TOP_KEYS)}"
            )
    version = data.get("Version")
    if version is not None and version not in VERSIONS:
        raise PolicyDocumentError("Version", f"{version!r} is not one of {', '.join(VERSIONS)}")
    pid = data.get("Id")
    if pid is not None and not isinstance(pid, str):
        raise PolicyDocumentError("Id", "must be a string")
    if "Statement" not in data:
        raise PolicyDocumentError("Statement", "missing; a policy needs a Statement")
    raw = data["Statement"]
    if isinstance(raw, Mapping):
        single = True
        raw = [raw]
    elif isinstance(raw, list):
        single = False
    else:
        raise PolicyDocumentError("Statement", f"must be a list or an object, not {kind_of(raw)}")
    variables = version == "2012-10-17"
    stmts = tuple(
        quick_statement(i, s, single, kind, variables)
        or read_statement(i, s, "Statement" if single else f"Statement[{i}]", kind, variables)
        for i, s in enumerate(raw)
    )
    policy = new_policy(kind, version, pid, stmts, private)
    if private is None:
        for st in stmts:
            fill(st)  # now, while the caller's mapping is as given
        # Rendered now, while the caller's mapping is as it was parsed.
        try:
            policy._source.append(canonical_json(data))
        except (TypeError, ValueError) as exc:
            raise PolicyDocumentError("", f"not representable as JSON: {exc}") from None
    return policy


def _tolerant(doc: Any, kind: PolicyKind, first: PolicyDocumentError) -> Policy:
    """The document read as far as it goes, with every problem found (`first` was raised)."""
    data = doc
    if isinstance(doc, str | bytes | bytearray):
        try:
            data = json.loads(doc.decode() if isinstance(doc, bytes | bytearray) else doc)
        except (ValueError, RecursionError):
            data = None
    if not isinstance(data, Mapping):
        return _with_problems(kind, None, None, (), "null", [first])
    problems: list[PolicyDocumentError] = []
    for key in data:
        if key not in _TOP_SET:
            problems.append(
                PolicyDocumentError(
                    str(key), f"unknown top-level key {key!r}; allowed: {', '.join(_TOP_KEYS)}"
                )
            )
    version = data.get("Version")
    if version is not None and version not in VERSIONS:
        problems.append(
            PolicyDocumentError("Version", f"{version!r} is not one of {', '.join(VERSIONS)}")
        )
        version = None
    pid = data.get("Id")
    if pid is not None and not isinstance(pid, str):
        problems.append(PolicyDocumentError("Id", "must be a string"))
        pid = None
    raw = data.get("Statement")
    single = isinstance(raw, Mapping)
    if "Statement" not in data:
        problems.append(PolicyDocumentError("Statement", "missing; a policy needs a Statement"))
    elif not single and not isinstance(raw, list):
        problems.append(
            PolicyDocumentError("Statement", f"must be a list or an object, not {kind_of(raw)}")
        )
    items = [raw] if single else raw if isinstance(raw, list) else []
    variables = version == "2012-10-17"
    stmts: list[Statement] = []
    for i, st in enumerate(items):
        path = "Statement" if single else f"Statement[{i}]"
        try:
            good = read_statement(i, st, path, kind, variables)
            fill(good)  # now, while the caller's mapping is as it was read
            stmts.append(good)
        except PolicyDocumentError as exc:
            problems.append(exc)
            if isinstance(st, Mapping):
                stmts.append(lenient_statement(i, st, path, kind, variables))
    try:
        source = canonical_json(data)
    except (TypeError, ValueError) as exc:
        problems.append(PolicyDocumentError("", f"not representable as JSON: {exc}"))
        source = json.dumps(data, sort_keys=True, separators=(",", ":"), default=repr)
    return _with_problems(kind, version, pid, tuple(stmts), source, problems or [first])


def _with_problems(
    kind: PolicyKind,
    version: str | None,
    pid: str | None,
    stmts: tuple[Statement, ...],
    source: str,
    problems: list[PolicyDocumentError],
) -> Policy:
    policy = new_policy(kind, version, pid, stmts, None)
    policy._source.append(source)
    object.__setattr__(policy, "problems", tuple(problems))
    return policy
