"""Wildcard globs, policy variables and ARN facts used by the evaluator."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


_WILD = re.compile(r"([*?])")


def glob_regex(pattern: str) -> str:
    """Regex source for an IAM glob: `*` any run of characters, `?` exactly one."""
    return "".join(
        ".*" if part == "*" else "." if part == "?" else re.escape(part)
        for part in _WILD.split(pattern)
        if part
    )


@dataclass(frozen=True, slots=True)
class GlobSet:
    """Patterns compiled once: exact strings in a set, wildcard ones in one alternation."""

    exact: frozenset[str]
    regex: re.Pattern[str] | None
    any: bool

    def matches(self, value: str) -> bool:
        if self.any or value in self.exact:
            return True
        return self.regex is not None and self.regex.fullmatch(value) is not None


def compile_globs(patterns: Iterable[str], *, fold_case: bool) -> GlobSet:
    return _compile_globs(tuple(patterns), fold_case)


@lru_cache(maxsize=4096)
def _compile_globs(patterns: tuple[str, ...], fold_case: bool) -> GlobSet:
    exact: set[str] = set()
    wild: list[str] = []
    for raw in patterns:
        p = raw.lower() if fold_case else raw
        if p == "*":
            return GlobSet(frozenset(), None, True)
        if "*" in p or "?" in p:
            wild.append(glob_regex(p))
        else:
            exact.add(p)
    regex = re.compile("|".join(f"(?:{w})" for w in wild), re.DOTALL) if wild else None
    return GlobSet(frozenset(exact), regex, False)


def clear_pattern_cache() -> None:
    _compile_globs.cache_clear()


@lru_cache(maxsize=4096)
def single_glob(pattern: str) -> re.Pattern[str]:
    return re.compile(glob_regex(pattern), re.DOTALL)


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


@lru_cache(maxsize=4096)
def substituted_glob(text: str) -> re.Pattern[str]:
    """Glob regex for a substituted pattern whose `\\x00`-marked characters are literal."""
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\x00" and i + 1 < len(text):
            out.append(re.escape(text[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


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
    parts = principal.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn":
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


@lru_cache(maxsize=8192)
def resource_info(resource: str) -> ResourceInfo:
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn":
        service, account, res = parts[2], parts[4], parts[5]
        is_key = service == "kms" and (res.startswith("key/") or res.startswith("alias/"))
        return ResourceInfo(service, account or None, is_key)
    return ResourceInfo(None, None, False)
