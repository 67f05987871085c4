"""A statement's Principal/NotPrincipal element: its checks, its compiled form and its matching."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kmsguard.access.arn import arn_fields, is_account_id
from kmsguard.access.errors import PolicyDocumentError
from kmsguard.access.matching import PrincipalInfo
from kmsguard.access.names import fold_principal
from kmsguard.access.policy_elements import element_strings, quick_strings, texts

_PRINCIPAL_KEYS = ("AWS", "Service", "Federated", "CanonicalUser")


# Principal match strengths.
NO_MATCH = 0
ACCOUNT_MATCH = 1  # the account (root or bare id): delegates to the account's IAM policies
DIRECT_MATCH = 2  # names this principal (or everyone)


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    """A compiled Principal/NotPrincipal element."""

    everyone: bool
    arns: frozenset[str]
    accounts: frozenset[str]
    role_keys: frozenset[tuple[str, str]]
    others: frozenset[str]
    # `arns` and `role_keys` with IAM user/role names folded: IAM compares them case-insensitively.
    folded: frozenset[str] = frozenset()
    folded_role_keys: frozenset[tuple[str, str]] = frozenset()

    def names(self, info: PrincipalInfo) -> bool:
        """The caller's own ARN is listed (user, session, role, root ARN; names case-folded)."""
        return info.arn in self.arns or fold_principal(info.arn) in self.folded

    def names_role(self, info: PrincipalInfo) -> bool:
        """A role session's role is listed by its role ARN."""
        key = info.role_key
        return (
            info.kind == "assumed-role"
            and key is not None
            and (key[0], key[1].lower()) in self.folded_role_keys
        )

    def match(self, principal: str, info: PrincipalInfo) -> int:
        if self.everyone or self.names(info) or principal in self.others:
            return DIRECT_MATCH
        if self.names_role(info):
            return DIRECT_MATCH
        if info.account is not None and info.account in self.accounts:
            return DIRECT_MATCH if info.kind == "root" else ACCOUNT_MATCH
        return NO_MATCH

    def excludes(self, principal: str, info: PrincipalInfo) -> bool:
        """NotPrincipal: AWS exempts a principal only if every identity in its chain is listed.

        For an IAM user that is the user ARN and its account; for a role session the session
        ARN, the role ARN and the account (AWS's documented NotPrincipal-with-Deny behaviour).
        """
        if self.everyone or principal in self.others:
            return True
        acct_ok = info.account is not None and info.account in self.accounts
        if info.kind == "root":
            return acct_ok or self.names(info)
        if info.kind == "assumed-role":
            return self.names(info) and self.names_role(info) and acct_ok
        return self.names(info) and acct_ok


_NOBODY: frozenset[Any] = frozenset()
_EVERYONE = PrincipalSpec(True, _NOBODY, _NOBODY, _NOBODY, _NOBODY)
_NOONE = PrincipalSpec(False, _NOBODY, _NOBODY, _NOBODY, _NOBODY)


def _entry(path: str, key: str, value: Any, i: int) -> str:
    """Where entry i of a principal type's value is, as `element_strings` names it."""
    return f"{path}.{key}[{i}]" if isinstance(value, list) else f"{path}.{key}"


def compile_principal(raw: Any, path: str, *, build: bool = True) -> PrincipalSpec:
    """The compiled element; with `build` False only its checks run (the result is a stand-in)."""
    if raw == "*":
        return _EVERYONE
    if (raw.__class__ is not dict and not isinstance(raw, Mapping)) or not raw:
        raise PolicyDocumentError(
            path, 'must be "*" or an object with AWS, Service, Federated or CanonicalUser'
        )
    everyone = False
    arns: set[str] = set()
    accounts: set[str] = set()
    role_keys: set[tuple[str, str]] = set()
    others: set[str] = set()
    for key, value in raw.items():
        if key not in _PRINCIPAL_KEYS:
            raise PolicyDocumentError(
                f"{path}.{key}", f"unknown principal type; allowed: {', '.join(_PRINCIPAL_KEYS)}"
            )
        values = quick_strings(value)
        if values is None:
            values = tuple([v for _, v in element_strings(value, f"{path}.{key}", key)])
        for i, v in enumerate(values):
            if key != "AWS":
                others.add(v)
            elif v == "*":
                everyone = True
            elif is_account_id(v):
                accounts.add(v)
            elif v.startswith("arn:") and (parts := arn_fields(v)) is not None:
                acct, res = parts[4], parts[5]
                # AWS refuses any partial wildcard, arn:aws:iam::*:root included.
                if "*" in v or "?" in v:
                    raise PolicyDocumentError(
                        _entry(path, key, value, i), "wildcards are not allowed in principal ARNs"
                    )
                if parts[2] == "iam" and res == "root":
                    accounts.add(acct)
                    continue
                arns.add(v)
                if build and parts[2] == "iam" and res.startswith("role/"):
                    role_keys.add((acct, res.rsplit("/", 1)[-1]))
            else:
                raise PolicyDocumentError(
                    _entry(path, key, value, i),
                    f"{v!r} is not '*', a 12-digit account id or an ARN",
                )
    if not build:
        return _EVERYONE
    return PrincipalSpec(
        everyone,
        frozenset(arns) if arns else _NOBODY,
        frozenset(accounts) if accounts else _NOBODY,
        frozenset(role_keys) if role_keys else _NOBODY,
        frozenset(others) if others else _NOBODY,
        frozenset([fold_principal(a) for a in arns]) if arns else _NOBODY,
        frozenset([(acct, name.lower()) for acct, name in role_keys]) if role_keys else _NOBODY,
    )


def quick_principal(raw: Any) -> bool:
    """The element passes `compile_principal`'s checks (True only when it surely does)."""
    if raw == "*" and raw.__class__ is str:
        return True
    if raw.__class__ is not dict or not raw:
        return False
    for key, value in raw.items():
        if key not in _PRINCIPAL_KEYS:
            return False
        values = quick_strings(value)
        if values is None:
            return False
        if key != "AWS":
            continue
        for v in values:
            if v == "*" or is_account_id(v):
                continue
            if not v.startswith("arn:") or v.count(":") < 5 or "*" in v or "?" in v:
                return False
    return True


def lenient_principal(raw: Any) -> PrincipalSpec:
    """The entries of a Principal element that read, compiled; the others are left out."""
    if raw == "*":
        return _EVERYONE
    kept: dict[str, list[str]] = {}
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            if key in _PRINCIPAL_KEYS:
                good = [v for v in texts(value) if v and (key != "AWS" or _readable_aws(v))]
                if good:
                    kept[key] = good
    return compile_principal(kept, "") if kept else _NOONE


def _readable_aws(v: str) -> bool:
    if v == "*" or is_account_id(v):
        return True
    return arn_fields(v) is not None and "*" not in v and "?" not in v


def written_principals(raw: Any) -> tuple[str, ...]:
    if raw == "*":
        return ("*",)
    out: list[str] = []
    if isinstance(raw, Mapping):
        for kind, names in raw.items():
            for name in names if isinstance(names, list) else [names]:
                if isinstance(name, str):
                    out.append(name if kind == "AWS" or name == "*" else f"{kind}:{name}")
    return tuple(out)
