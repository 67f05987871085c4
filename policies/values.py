"""Reading resource properties that may be unknown (preview) or malformed without raising."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    _DictProxy,
    _ListProxy,
)

UNKNOWN_SENTINELS = frozenset(
    {
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_STRING_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_OBJECT_VALUE,
    }
)


class Unknown:
    """Marker for a value the engine cannot know yet (preview)."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in UNKNOWN_SENTINELS)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def plain(value: Any) -> Any:
    """Unwrap the SDK's unknown-checking proxies into plain dicts and lists (sentinels kept)."""
    # Scalars first, by exact type: this runs on every value of every resource.
    if value.__class__ in _SCALARS:
        return value
    if isinstance(value, _DictProxy | _ListProxy):
        return plain(value["__target"])
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def get(props: Any, *path: str | int) -> Any:
    """Follow `path` in plain data; None when absent or malformed, UNKNOWN when unknown."""
    cur = props
    for step in path:
        if is_unknown(cur):
            return UNKNOWN
        if isinstance(step, int):
            if not isinstance(cur, list) or not -len(cur) <= step < len(cur):
                return None
            cur = cur[step]
        else:
            if not isinstance(cur, dict):
                return None
            cur = cur.get(step)
    return UNKNOWN if is_unknown(cur) else cur


def contains_unknown(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False


def as_bool(value: Any) -> bool | Unknown | None:
    """A boolean property: True/False, UNKNOWN, or None when absent or not a boolean."""
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def as_int(value: Any) -> int | Unknown | None:
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


class DocumentError(ValueError):
    """A policy document that is not JSON or not an object."""


# JSON documents by their text: every rule reading a resource's policy (and each Analyze call
# of the same document) shares one parse, and the domain's parse cache then finds the mapping
# by identity. Bounded in entries and in the size of a kept text, so a program full of large or
# distinct documents costs a parse each, never unbounded memory.
_LOADED: dict[str, dict[str, Any]] = {}
_LOADED_ENTRIES = 1024
_LOADED_MAX_TEXT = 64 * 1024  # twice the largest key policy AWS accepts (32 KiB)

# Within one request to the pack, every text is parsed once, however many documents the request
# holds: the stack rules each read every key policy, and past the bound above each rule would
# parse each document again (the time per resource would grow with the stack). The request
# holds every text already, so this grows with it and goes with it.
_REQUEST: ContextVar[dict[str, dict[str, Any]] | None] = ContextVar("documents", default=None)


@contextmanager
def request_documents() -> Iterator[None]:
    """Within: `load_document` parses each text once (per thread: one request each)."""
    token = _REQUEST.set({})
    try:
        yield
    finally:
        _REQUEST.reset(token)


def load_document(value: Any) -> dict[str, Any] | Unknown | None:
    """A policy document given as a JSON string or an object; None when absent.

    A document read from text may be shared with other readers of the same text: read it,
    never modify it.
    """
    if value is None or value == "":
        return None
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, dict):
        if contains_unknown(value):
            return UNKNOWN
        return value
    if not isinstance(value, str):
        raise DocumentError(f"policy must be a JSON string, got {type(value).__name__}")
    request = _REQUEST.get()
    known = request.get(value) if request is not None else None
    if known is not None:
        return known
    known = _LOADED.get(value)
    if known is not None:
        if request is not None:
            request[value] = known
        return known
    if any(s in value for s in UNKNOWN_SENTINELS):
        return UNKNOWN
    try:
        doc = json.loads(value)
    except (ValueError, RecursionError) as exc:
        raise DocumentError(f"policy is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise DocumentError(f"policy must be a JSON object, got {type(doc).__name__}")
    if len(value) <= _LOADED_MAX_TEXT:
        if len(_LOADED) >= _LOADED_ENTRIES:
            _LOADED.clear()
        _LOADED[value] = doc
    if request is not None:
        request[value] = doc
    return doc
