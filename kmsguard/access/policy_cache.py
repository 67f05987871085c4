"""Parsed policies remembered by document text, marshalled bytes or mapping identity."""

from __future__ import annotations

from typing import Any

from kmsguard.access.matching import clear_pattern_cache
from kmsguard.access.policy_model import Policy

# Parsed policies by document text (or a mapping's marshalled bytes): identical documents
# compile to an identical immutable Policy. Each entry keeps the private copy of the document,
# to confirm a mapping really is that document.
PARSED: dict[tuple[str | bytes, str], tuple[Any, Policy]] = {}
# The same, by the identity of a mapping given before (confirmed against the copy).
PARSED_BY_ID: dict[tuple[int, str], tuple[Any, Policy]] = {}
_CACHE_SIZE = 2048


def clear_caches() -> None:
    """Forget parsed documents and compiled patterns (benchmarks measure cold parsing)."""
    PARSED.clear()
    PARSED_BY_ID.clear()
    clear_pattern_cache()


def remember(text: str | bytes, kind: str, snapshot: Any, policy: Policy) -> None:
    if len(PARSED) > _CACHE_SIZE:
        PARSED.clear()
    PARSED[(text, kind)] = (snapshot, policy)


def remember_object(doc: Any, kind: str, snapshot: Any, policy: Policy) -> None:
    if doc.__class__ is not dict:
        return
    for st in policy.statements:
        if not st._plain:
            return
    if len(PARSED_BY_ID) > _CACHE_SIZE:
        PARSED_BY_ID.clear()
    PARSED_BY_ID[(id(doc), kind)] = (snapshot, policy)


def seen_before(doc: Any, kind: str) -> Policy | None:
    """The policy parsed from this very mapping before, if it is unchanged since.

    The common case: the same document object passed again. A private copy taken when it was
    parsed confirms it is unchanged; only documents whose every value is a string are kept
    (`remember_object`), since == cannot tell 1, 1.0 and True apart and a condition reads
    them differently.
    """
    if doc.__class__ is dict:
        seen = PARSED_BY_ID.get((id(doc), kind))
        if seen is not None and seen[0] == doc:
            return seen[1]
    return None
