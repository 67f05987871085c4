"""Reading a policy document's string-or-list elements, and naming what a value is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmsguard.access.errors import PolicyDocumentError


def texts(value: Any) -> tuple[str, ...]:
    """The strings of a string-or-list element; anything else reads as nothing."""
    return tuple(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))


def values_of(raw: Any) -> tuple[Any, ...]:
    return tuple(raw if isinstance(raw, list) else [raw])


def kind_of(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, Mapping):
        return "an object"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    return type(v).__name__


def element_strings(value: Any, path: str, what: str) -> list[tuple[str, str]]:
    """A string-or-list element as (path, value) pairs; non-empty, strings only."""
    if value.__class__ is str and value:
        return [(path, value)]
    if isinstance(value, str):
        pairs = [(path, value)]
    elif isinstance(value, list):
        if not value:
            raise PolicyDocumentError(path, f"{what} must not be an empty list")
        pairs = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    else:
        raise PolicyDocumentError(path, f"{what} must be a string or a list of strings")
    for p, v in pairs:
        if not isinstance(v, str):
            raise PolicyDocumentError(p, f"{what} entries must be strings, not {kind_of(v)}")
        if not v:
            raise PolicyDocumentError(p, f"{what} entries must not be empty")
    return pairs


def one_of(st: Mapping[str, Any], a: str, b: str, path: str) -> tuple[str, Any]:
    if a in st and b in st:
        raise PolicyDocumentError(path, f"has both {a} and {b}; use exactly one")
    if a in st:
        return a, st[a]
    if b in st:
        return b, st[b]
    raise PolicyDocumentError(path, f"needs {a} or {b}")


def quick_strings(value: Any) -> tuple[str, ...] | None:
    """A string-or-list element `element_strings` accepts, read without building paths; None when
    it is anything else (then `element_strings` reads it again and says what is wrong)."""
    if value.__class__ is str:
        return (value,) if value else None
    if value.__class__ is not list or not value:
        return None
    for v in value:
        if v.__class__ is not str or not v:
            return None
    return tuple(value)
