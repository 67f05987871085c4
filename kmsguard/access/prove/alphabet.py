"""What AWS lets a request carry: z3 literals over Unicode, IAM name grammar, keys per action."""

from __future__ import annotations

import ctypes
import re
from collections.abc import Mapping
from functools import lru_cache

import z3

from kmsguard.access.catalog_file import views

# z3's string sort holds code points up to U+2FFFF. A value above it is still covered: no cased
# character lies above it, so it matches a policy only through `*` or `?`, like any character
# no policy names, and the solver may pick one of those instead.
MAX_CHAR = 0x2FFFF
# IAM user and role names (CreateUser/CreateRole `UserName`/`RoleName`: [\w+=,.@-]+).
NAME_CHARS = "A-Za-z0-9_+=,.@-"
# Role session names (AssumeRole `RoleSessionName`: [\w+=,.@-]*).
SESSION_CHARS = NAME_CHARS
# An IAM path: `/` alone or `/` ... `/` with any of U+0021 to U+007F between (CreateRole `Path`).
PATH_LOW, PATH_HIGH = "\x21", "\x7f"


class BeyondModel(Exception):
    """A policy value the solver's sorts cannot hold."""


def lit(text: str, ctx: z3.Context) -> z3.SeqRef:
    """A z3 string of exactly these code points (z3 would read `\\u{..}` in a plain literal)."""
    for ch in text:
        if ord(ch) > MAX_CHAR:
            raise BeyondModel(f"character U+{ord(ch):X} is beyond U+{MAX_CHAR:X}")
    escaped = "".join(ch if ch.isascii() and ch.isalnum() else f"\\u{{{ord(ch):x}}}" for ch in text)
    return z3.StringVal(escaped, ctx)


def text_of(value: z3.ExprRef) -> str:
    """The code points of a z3 string value (its printed form escapes some of them)."""
    ref, ast = value.ctx_ref(), value.as_ast()
    n = z3.Z3_get_string_length(ref, ast)
    buf = (ctypes.c_uint * n)()
    z3.Z3_get_string_contents(ref, ast, n, buf)
    return "".join(map(chr, buf))


@lru_cache(maxsize=1)
def _lowered_from() -> Mapping[str, tuple[str, ...]]:
    """Lower-cased text -> every character (in z3's range) that `str.lower` maps to it."""
    out: dict[str, list[str]] = {}
    for i in range(MAX_CHAR + 1):
        ch = chr(i)
        low = ch.lower()
        out.setdefault(low, []).append(ch)
    # A capital sigma lowers to a final sigma at the end of a word: allow both readings.
    out.setdefault("\u03c2", []).append("\u03a3")
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=1)
def _longest() -> int:
    return max(len(k) for k in _lowered_from())


def _ascii_fold(text: str, ctx: z3.Context) -> z3.ReRef:
    parts: list[z3.ReRef] = []
    run = ""
    for ch in text:
        if ch.isalpha():
            if run:
                parts.append(z3.Re(lit(run, ctx)))
                run = ""
            parts.append(z3.Union(z3.Re(lit(ch.lower(), ctx)), z3.Re(lit(ch.upper(), ctx))))
        else:
            run += ch
    if run or not parts:
        parts.append(z3.Re(lit(run, ctx)))
    return parts[0] if len(parts) == 1 else z3.Concat(*parts)


def fold_re(text: str, ctx: z3.Context, *, ascii_only: bool = False) -> z3.ReRef:
    """Strings x with x.lower() == text.lower(), as the evaluator's IgnoreCase operators test
    (`ascii_only`: x is known to be ASCII, as IAM names are)."""
    if text.isascii() and ascii_only:
        return _ascii_fold(text, ctx)
    low = text.lower()
    table = _lowered_from()
    longest = _longest()
    after: list[z3.ReRef | None] = [None] * (len(low) + 1)
    after[len(low)] = z3.Re(lit("", ctx))
    for i in range(len(low) - 1, -1, -1):
        options: list[z3.ReRef] = []
        for size in range(1, longest + 1):
            rest = after[i + size] if i + size <= len(low) else None
            chars = table.get(low[i : i + size], ())
            if rest is None or not chars:
                continue
            one = _chars(chars, ctx)
            options.append(one if size == len(low) - i else z3.Concat(one, rest))
        if options:
            after[i] = options[0] if len(options) == 1 else z3.Union(*options)
    first = after[0]
    return first if first is not None else z3.Empty(z3.ReSort(z3.StringSort(ctx)))


def _chars(chars: tuple[str, ...], ctx: z3.Context) -> z3.ReRef:
    res = [z3.Re(lit(c, ctx)) for c in chars]
    return res[0] if len(res) == 1 else z3.Union(*res)


@lru_cache(maxsize=1)
def _kms_keys() -> tuple[Mapping[str, frozenset[str]], Mapping[str, str]]:
    """KMS condition key pattern (lower-cased) -> lower-cased actions the catalog lists it for,
    and key pattern -> its catalog type (String, ArrayOfString, ...)."""
    found = views()
    return found.kms_condition_actions, found.kms_condition_types


@lru_cache(maxsize=1024)
def _pattern(key: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(key)
    return re.compile("".join(".+" if p.startswith("${") else re.escape(p) for p in parts))


_PLACEHOLDER = re.compile(r"(\$\{[^}]*\})")


def kms_key_actions(key: str) -> frozenset[str] | None:
    """The KMS actions (lower-cased) whose requests may carry `key`, per the IAM catalog;
    None when the catalog does not know the key (it may be newer than the catalog)."""
    by_key, _ = _kms_keys()
    hits = [acts for pat, acts in by_key.items() if _pattern(pat).fullmatch(key)]
    if not hits:
        return None
    return frozenset().union(*hits)


# Global keys AWS documents as multivalued; every other global key holds one value.
AWS_SET_KEYS = frozenset(
    {
        "aws:tagkeys",
        "aws:calledvia",
        "aws:principalorgpaths",
        "aws:resourceorgpaths",
        "aws:sourceorgpaths",
        "aws:principalservicenameslist",
    }
)


def kms_key_is_set(key: str) -> bool | None:
    """Whether the catalog types a KMS key as a set (ArrayOf...); None when it does not know it."""
    _, types = _kms_keys()
    hits = [t for pat, t in types.items() if _pattern(pat).fullmatch(key)]
    if not hits:
        return None
    return any(t.startswith("ArrayOf") for t in hits)
