"""Policy statements as the pack reads them: the domain's policy AST, read tolerantly."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kmsguard.access.arn import arn_fields, key_arn
from kmsguard.access.key_users import is_account_root as is_account_root
from kmsguard.access.matching import glob

if TYPE_CHECKING:
    from kmsguard.access import Statement


def statements(doc: Any) -> tuple[Statement, ...]:
    """The statements of a policy document, read by the domain's parser.

    A malformed document is read tolerantly (odd elements read as nothing), so that rules such
    as kms-key-policy-valid can still point at its statements; anything but an object has none.
    A document naming a principal is read as a resource policy, any other as an identity one.
    """
    from kmsguard.access import PolicyKind, parse_policy

    if not isinstance(doc, dict):
        return ()
    items = doc.get("Statement")
    items = items if isinstance(items, list) else [items]
    named = any(
        isinstance(st, dict) and ("Principal" in st or "NotPrincipal" in st) for st in items
    )
    kind: PolicyKind = "resource" if named else "identity"
    return parse_policy(doc, kind=kind, tolerant=True).statements


def label(st: Statement) -> str:
    """A statement as the pack's messages name it: by its Sid, else by its position."""
    return f"statement {st.sid!r}" if st.sid else f"statement #{st.index}"


def allows(st: Statement) -> bool:
    return st.effect == "Allow"


def written_actions(st: Statement) -> tuple[str, ...]:
    """The Action (or NotAction) entries as written."""
    return tuple(a for _, a in st.action_paths)


def covers_any(st: Statement, actions: Iterable[str]) -> list[str]:
    return [a for a in actions if st.covers(a)]


# Condition keys that narrow which keys (or which path) an identity statement reaches.
NARROWING_CONDITION_KEYS = (
    "kms:viaservice",
    "kms:resourcealiases",
    "kms:requestalias",
    "kms:encryptioncontext",
    "kms:encryptioncontextkeys",
    "aws:resourcetag/",
    "aws:calledvia",
    "aws:calledviafirst",
    "aws:calledvialast",
)
# aws:ResourceAccount / aws:ResourceOrgID are not here: pinned to the stack's account they
# still reach every key of it, exactly like Resource arn:aws:kms:*:<account>:key/*.


def narrows_resource(st: Statement) -> bool:
    """A condition that limits the statement to some keys or to use through a service.

    A clause true when its key is absent (as for a direct call) does not narrow: negations
    (but ForAnyValue: ones, false on an absent key), Null, IfExists and ForAllValues; nor does
    a value that is only wildcards.
    """
    for cl in st.clauses:
        op = cl.operator
        if op.base == "Null" or op.if_exists or op.qualifier == "ForAllValues":
            continue
        if op.negated and op.qualifier != "ForAnyValue":
            continue
        values = [str(v) for v in cl.values]
        if not values or all(v.strip("*?") == "" for v in values):
            continue
        k = cl.key
        if any(
            k == n or (n.endswith("/") and k.startswith(n)) or k.startswith(n + ":")
            for n in NARROWING_CONDITION_KEYS
        ):
            return True
    return False


def _probe_key_arn(pattern: str) -> str:
    parts = arn_fields(pattern) or [""] * 6
    region = parts[3] if parts[3] and "*" not in parts[3] else "us-east-1"
    account = parts[4] if parts[4] and "*" not in parts[4] else "111122223333"
    partition = parts[1] if "*" not in parts[1] and parts[1] else "aws"
    return key_arn(account, "kmsguard-probe-0000", region, partition)


def _reaches(pattern: str) -> bool:
    # Read case-insensitively, as the pack always has: a spelling AWS might not match still
    # counts as reaching every key, never as a way round the rule.
    return glob(pattern.lower()).matches(_probe_key_arn(pattern).lower())


def reaches_all_keys(st: Statement) -> bool:
    """Whether the statement's resources include every KMS key (of an account/region)."""
    hit = any(_reaches(r) for r in st.resource_patterns)
    return not hit if st.not_resource else hit


DECRYPT_ACTIONS = ("kms:Decrypt", "kms:ReEncryptFrom")


def decrypt_on_all_keys(doc: Any) -> list[tuple[Statement, list[str]]]:
    """Allow statements of an identity policy granting decrypt actions on all keys."""
    items = statements(doc)
    # An unconditional Deny on every resource in the same document cancels those actions; a
    # narrower or conditional Deny leaves some keys open, so it cancels nothing.
    cancelled = {
        a
        for st in items
        if st.is_deny and not st.conditioned and not st.not_resource and "*" in st.resource_patterns
        for a in covers_any(st, DECRYPT_ACTIONS)
    }
    found = []
    for st in items:
        if not allows(st) or not reaches_all_keys(st) or narrows_resource(st):
            continue
        actions = [a for a in covers_any(st, DECRYPT_ACTIONS) if a not in cancelled]
        if actions:
            found.append((st, actions))
    return found


def requires_condition_true(st: Statement, key: str) -> bool:
    """The statement applies only when the boolean condition `key` is true.

    Bool/StringEquals (IfExists too) with every value `true`; negations, Null, set operators
    and a value list that also admits `false` do not restrict.
    """
    for cl in st.clauses:
        op = cl.operator
        if op.qualifier or op.base not in ("Bool", "StringEquals", "StringEqualsIgnoreCase"):
            continue
        values = [str(x).lower() for x in cl.values]
        if cl.key == key.lower() and values and all(x == "true" for x in values):
            return True
    return False
