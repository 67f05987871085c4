"""Wildcard globs, policy variables and ARN facts used by the evaluator."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from kmsguard.access.arn import arn_fields

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


_MARK = "\x00"


@dataclass(frozen=True, slots=True)
class _Segment:
    """A run of a glob between stars: literal characters and `?`, so of fixed length.

    `runs` holds (offset, literal text) for the literal parts; `?` positions lie between them.
    """

    size: int
    runs: tuple[tuple[int, str], ...]
    # The whole segment when it has no `?` (the common case, checked with one startswith).
    literal: str | None = field(compare=False, repr=False)
    # Each literal character with the offsets it occupies (for the bit-parallel search).
    offsets: tuple[tuple[str, tuple[int, ...]], ...] = field(compare=False, repr=False)

    def at(self, value: str, pos: int) -> bool:
        """Whether the segment matches `value` at `pos` (the caller checks the length)."""
        if self.literal is not None:
            return value.startswith(self.literal, pos)
        return all(value.startswith(text, pos + off) for off, text in self.runs)

    def find(self, value: str, lo: int, hi: int) -> int:
        """Leftmost position p in [lo, hi - size] where the segment matches, or -1.

        No backtracking: one `str.find` when there is at most one literal run, otherwise a
        bit-parallel search whose cost is linear in hi - lo for a given segment.
        """
        if hi - lo < self.size:
            return -1
        if not self.runs:
            return lo
        if len(self.runs) == 1:
            off, text = self.runs[0]
            p = value.find(text, lo + off, hi - (self.size - off - len(text)))
            return p - off if p >= 0 else -1
        # Windows doubling in size: a near match costs little, a full scan stays linear.
        width = max(64, 2 * self.size)
        start = lo
        while True:
            end = min(hi, start + width)
            p = self._find_bitwise(value[start:end], start)
            if p >= 0 or end == hi:
                return p
            start = end - self.size + 1
            width *= 2

    def _find_bitwise(self, window: str, lo: int) -> int:
        # Bit p of `starts` stays set while the segment can still start at window[p]: for each
        # literal character, AND in the window's positions holding it, shifted by its offset.
        # Every step is a C-level pass over the window (translate, int parse, shift, and).
        reverse = window[::-1]  # int(..., 2) reads the most significant digit first
        zeros = dict.fromkeys(map(ord, set(window)), "0")
        starts = (1 << (len(window) - self.size + 1)) - 1
        for ch, offs in self.offsets:
            if ord(ch) not in zeros:
                return -1
            table = dict(zeros)
            table[ord(ch)] = "1"
            where = int(reverse.translate(table), 2)
            for off in offs:
                starts &= where >> off
            if not starts:
                return -1
        return lo + (starts & -starts).bit_length() - 1


def _segment(chars: list[str | None]) -> _Segment:
    runs: list[tuple[int, str]] = []
    run: list[str] = []
    for i, ch in enumerate(chars):
        if ch is None:
            if run:
                runs.append((i - len(run), "".join(run)))
                run = []
        else:
            run.append(ch)
    if run:
        runs.append((len(chars) - len(run), "".join(run)))
    offsets: dict[str, list[int]] = {}
    for i, ch in enumerate(chars):
        if ch is not None:
            offsets.setdefault(ch, []).append(i)
    whole = runs[0][1] if len(runs) == 1 and len(runs[0][1]) == len(chars) else None
    if not chars:
        whole = ""
    return _Segment(
        len(chars), tuple(runs), whole, tuple((c, tuple(o)) for c, o in offsets.items())
    )


def _literal_segment(text: str) -> _Segment:
    return _Segment(len(text), ((0, text),) if text else (), text, ())


@dataclass(frozen=True, slots=True)
class Glob:
    """An IAM glob (`*` any run of characters, `?` exactly one) matched in linear time.

    The pattern splits at its stars into fixed-length segments: the first must match at the
    start, the last at the end, and the ones between are found leftmost-first in order, which
    is exact because each segment has a fixed length (an earlier end never hurts later ones).
    """

    head: _Segment
    middle: tuple[_Segment, ...]
    tail: _Segment | None  # None: no star, the head is the whole pattern
    min_size: int

    def matches(self, value: str) -> bool:
        n = len(value)
        head, tail = self.head, self.tail
        if tail is None:
            return n == head.size and head.at(value, 0)
        if n < self.min_size or not head.at(value, 0):
            return False
        hi = n - tail.size
        if not tail.at(value, hi):
            return False
        lo = head.size
        for seg in self.middle:
            p = seg.find(value, lo, hi)
            if p < 0:
                return False
            lo = p + seg.size
        return True


def _tokens(pattern: str, *, marked: bool) -> list[str | None]:
    """The pattern as tokens: a literal character, None for `?`, "" for `*`."""
    out: list[str | None] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if marked and ch == _MARK and i + 1 < len(pattern):
            out.append(pattern[i + 1])
            i += 2
            continue
        out.append("" if ch == "*" else None if ch == "?" else ch)
        i += 1
    return out


def _build(tokens: list[str | None]) -> Glob:
    parts: list[list[str | None]] = [[]]
    for t in tokens:
        if t == "":
            parts.append([])
        else:
            parts[-1].append(t)
    return _assemble([_segment(p) for p in parts])


def _assemble(segs: list[_Segment]) -> Glob:
    if len(segs) == 1:
        return Glob(segs[0], (), None, segs[0].size)
    middle = tuple(s for s in segs[1:-1] if s.size)
    return Glob(segs[0], middle, segs[-1], sum(s.size for s in segs))


@lru_cache(maxsize=4096)
def glob(pattern: str) -> Glob:
    """Compile an IAM glob; every character other than `*` and `?` is literal."""
    if "?" not in pattern:
        return _assemble([_literal_segment(p) for p in pattern.split("*")])
    return _build(_tokens(pattern, marked=False))


@lru_cache(maxsize=4096)
def substituted_glob(text: str) -> Glob:
    """Glob for a substituted pattern whose `\\x00`-marked characters are literal."""
    if _MARK not in text:
        return glob(text)
    return _build(_tokens(text, marked=True))


@dataclass(frozen=True, slots=True)
class ArnGlob:
    """ArnLike/ArnEquals: each of the six colon-separated parts globbed on its own, so `*` and
    `?` in the first five never cross a colon; the resource part may contain colons."""

    parts: tuple[Glob, ...]

    def matches(self, value: str) -> bool:
        vparts = arn_fields(value)
        if vparts is None:
            return False
        return all(g.matches(v) for g, v in zip(self.parts, vparts, strict=True))


@lru_cache(maxsize=4096)
def arn_glob(pattern: str) -> ArnGlob | None:
    """None when the pattern has fewer than six colon-separated parts (it matches nothing)."""
    parts = arn_fields(pattern)
    if parts is None:
        return None
    return ArnGlob(tuple(glob(p) for p in parts))


@dataclass(frozen=True, slots=True)
class GlobSet:
    """Patterns compiled once: exact strings in a set, `literal*` patterns as prefixes (one
    startswith), the other wildcard ones as linear globs."""

    exact: frozenset[str]
    globs: tuple[Glob, ...]
    any: bool
    prefixes: tuple[str, ...] = ()

    def matches(self, value: str) -> bool:
        if self.any or value in self.exact:
            return True
        if self.prefixes and value.startswith(self.prefixes):
            return True
        return any(g.matches(value) for g in self.globs) if self.globs else False


_ANY = GlobSet(frozenset(), (), True)


class _BlankGlobSet:
    """GlobSet's layout without its frozen __setattr__: filled in with plain assignments (a
    third of the frozen constructor's cost; a first-seen document builds two per statement),
    then handed out as a GlobSet."""

    # GlobSet's fields in its order: a class may be swapped only for one of the same layout.
    __slots__ = ("exact", "globs", "any", "prefixes")  # noqa: RUF023
    exact: frozenset[str]
    globs: tuple[Glob, ...]
    any: bool
    prefixes: tuple[str, ...]


def _globset(exact: frozenset[str], globs: tuple[Glob, ...], prefixes: tuple[str, ...]) -> GlobSet:
    blank = _BlankGlobSet()
    blank.exact = exact
    blank.globs = globs
    blank.any = False
    blank.prefixes = prefixes
    blank.__class__ = GlobSet  # type: ignore[assignment]
    return blank  # type: ignore[return-value]


def compile_globs(patterns: Iterable[str], *, fold_case: bool) -> GlobSet:
    return _compile_globs(tuple(patterns), fold_case)


@lru_cache(maxsize=4096)
def _compile_globs(patterns: tuple[str, ...], fold_case: bool) -> GlobSet:
    if len(patterns) == 1:
        # The common single pattern, sorted as the loop below would.
        p = patterns[0].lower() if fold_case else patterns[0]
        if p == "*":
            return _ANY
        if "*" not in p and "?" not in p:
            return _globset(frozenset((p,)), (), ())
    exact: set[str] = set()
    prefixes: dict[str, None] = {}
    wild: dict[str, Glob] = {}
    for raw in patterns:
        p = raw.lower() if fold_case else raw
        if p == "*":
            return _ANY
        if p and "?" not in p and p.find("*") == len(p) - 1:
            prefixes[p[:-1]] = None  # the only wildcard is the last character
        elif "*" in p or "?" in p:
            wild.setdefault(p, glob(p))
        else:
            exact.add(p)
    return _globset(frozenset(exact), tuple(wild.values()), tuple(prefixes))


def clear_pattern_cache() -> None:
    for cached in (_compile_globs, glob, substituted_glob, arn_glob):
        cached.cache_clear()


def has_variables(text: str) -> bool:
    return "${" in text


def substitute(text: str, context: Mapping[str, Any]) -> str | None:
    """Replace `${key}` / `${key, 'default'}` from the (lower-cased) context.

    None when a variable has no single string value: AWS then treats the element as not matching.
    `${*}`, `${?}`, `${$}` stand for the literal characters.
    """
    missing = False

    def repl(m: re.Match[str]) -> str:
        nonlocal missing
        body = m.group(1).strip()
        if body in _SPECIAL:
            # A literal `*` or `?` must not act as a wildcard afterwards; brackets keep it literal.
            return "\x00" + body
        key, _, default = body.partition(",")
        value = context.get(key.strip().lower())
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        d = default.strip()
        if len(d) >= 2 and d[0] == d[-1] == "'":
            return d[1:-1]
        missing = True
        return ""

    out = _VARIABLE.sub(repl, text)
    return None if missing else out


def literal(text: str) -> str:
    """A substituted value with its literal markers removed (for equality operators)."""
    return text.replace("\x00", "")


@dataclass(frozen=True, slots=True)
class PrincipalInfo:
    """What a principal string tells about who is calling."""

    arn: str
    account: str | None
    kind: str  # "root", "user", "role", "assumed-role", "federated-user", "service", "other"
    name: str | None
    role_key: tuple[str, str] | None  # (account, role name) a session belongs to, or a role's own
    partition: str


@lru_cache(maxsize=8192)
def principal_info(principal: str) -> PrincipalInfo:
    parts = arn_fields(principal)
    if parts is not None and parts[0] == "arn":
        partition, service, account, res = parts[1], parts[2], parts[4], parts[5]
        acct = account or None
        if service == "iam" and res == "root":
            return PrincipalInfo(principal, acct, "root", None, None, partition)
        if service == "iam" and res.startswith("user/"):
            return PrincipalInfo(principal, acct, "user", res.rsplit("/", 1)[-1], None, partition)
        if service == "iam" and res.startswith("role/"):
            name = res.rsplit("/", 1)[-1]
            key = (account, name) if acct else None
            return PrincipalInfo(principal, acct, "role", name, key, partition)
        if service == "sts" and res.startswith("assumed-role/"):
            segs = res.split("/")
            key = (account, segs[1]) if len(segs) >= 2 and acct else None
            return PrincipalInfo(principal, acct, "assumed-role", None, key, partition)
        if service == "sts" and res.startswith("federated-user/"):
            return PrincipalInfo(principal, acct, "federated-user", None, None, partition)
        return PrincipalInfo(principal, acct, "other", None, None, partition)
    if principal.endswith(".amazonaws.com") or principal.endswith(".amazonaws.com.cn"):
        return PrincipalInfo(principal, None, "service", None, None, "aws")
    if len(principal) == 12 and principal.isdigit():
        return PrincipalInfo(f"arn:aws:iam::{principal}:root", principal, "root", None, None, "aws")
    return PrincipalInfo(principal, None, "other", None, None, "aws")


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    service: str | None
    account: str | None
    is_kms_key: bool
    # An alias is a resource of its own, authorized by IAM policies only (it has no key policy).
    is_kms_alias: bool = False

    @property
    def aws_owned(self) -> bool:
        """AWS owns it for every account (`arn:aws:iam::aws:policy/...`): never cross-account."""
        return self.account == "aws"


@lru_cache(maxsize=8192)
def resource_info(resource: str) -> ResourceInfo:
    parts = arn_fields(resource)
    if parts is not None and parts[0] == "arn":
        service, account, res = parts[2], parts[4], parts[5]
        is_key = service == "kms" and res.startswith("key/")
        is_alias = service == "kms" and res.startswith("alias/")
        return ResourceInfo(service, account or None, is_key, is_alias)
    return ResourceInfo(None, None, False)
