"""Policy statements as the pack reads them: a view over the evaluator's parser (one reading)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kmsguard.access.arn import arn_fields, is_account_id, key_arn, parse_arn
from kmsguard.access.matching import glob


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Statement:
    """One statement, tolerant of malformed input (odd fields become empty)."""

    index: int
    sid: str
    effect: str
    principals: tuple[str, ...]
    principal_is_not: bool
    not_resource: bool
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"statement {self.sid!r}" if self.sid else f"statement #{self.index}"

    @property
    def allows(self) -> bool:
        return self.effect == "Allow"


def _principal_values(value: Any) -> tuple[str, ...]:
    if value == "*":
        return ("*",)
    out: list[str] = []
    if isinstance(value, dict):
        for kind, names in value.items():
            for name in as_list(names):
                if isinstance(name, str):
                    out.append(name if kind == "AWS" or name == "*" else f"{kind}:{name}")
    return tuple(out)


def statements(doc: Any) -> list[Statement]:
    """The statements of a policy document, read by the evaluator's parser.

    A document the parser refuses is read tolerantly (odd fields become empty), so that rules
    such as kms-key-policy-valid can still point at its statements.
    """
    from kmsguard.access import PolicyDocumentError, PolicyKind, parse_policy

    if isinstance(doc, dict):
        items = as_list(doc.get("Statement"))
        named = any(
            isinstance(st, dict) and ("Principal" in st or "NotPrincipal" in st) for st in items
        )
        kind: PolicyKind = "resource" if named else "identity"
        try:
            parsed = parse_policy(doc, kind=kind)
        except PolicyDocumentError:
            return _tolerant(doc)
        raw = as_list(parsed.document.get("Statement"))
        return [_view(st, raw[st.index]) for st in parsed.statements]
    return _tolerant(doc)


def _view(st: Any, raw: dict[str, Any]) -> Statement:
    condition: dict[str, Any] = {}
    for clause in st.clauses:
        condition.setdefault(clause.operator.text, {})[clause.key] = list(clause.values)
    actions = tuple(a for _, a in st.action_paths)
    return Statement(
        index=st.index,
        sid=st.sid or "",
        effect=st.effect,
        principals=_principal_values(raw.get("NotPrincipal" if st.not_principal else "Principal")),
        principal_is_not=st.not_principal,
        not_resource=st.not_resource,
        actions=() if st.not_action else actions,
        not_actions=actions if st.not_action else (),
        resources=st.resource_patterns,
        condition=condition,
    )


def _tolerant(doc: Any) -> list[Statement]:
    raw = doc.get("Statement") if isinstance(doc, dict) else None
    out: list[Statement] = []
    for i, st in enumerate(as_list(raw)):
        if not isinstance(st, dict):
            continue
        not_principal = "NotPrincipal" in st
        cond = st.get("Condition")
        out.append(
            Statement(
                index=i,
                sid=str(st.get("Sid") or ""),
                effect=str(st.get("Effect") or ""),
                principals=_principal_values(
                    st.get("NotPrincipal" if not_principal else "Principal")
                ),
                principal_is_not=not_principal,
                not_resource="NotResource" in st and "Resource" not in st,
                actions=tuple(a for a in as_list(st.get("Action")) if isinstance(a, str)),
                not_actions=tuple(a for a in as_list(st.get("NotAction")) if isinstance(a, str)),
                resources=tuple(
                    r
                    for r in as_list(st.get("Resource", st.get("NotResource")))
                    if isinstance(r, str)
                ),
                condition=cond if isinstance(cond, dict) else {},
            )
        )
    return out


def action_matches(pattern: str, action: str) -> bool:
    """IAM action globbing: case-insensitive, `*` and `?` wildcards (linear in the action)."""
    return glob(pattern.lower()).matches(action.lower())


def covers(st: Statement, action: str) -> bool:
    """Whether the statement's Action/NotAction applies to `action`."""
    if st.not_actions:
        return not any(action_matches(p, action) for p in st.not_actions)
    return any(action_matches(p, action) for p in st.actions)


def covers_any(st: Statement, actions: Iterable[str]) -> list[str]:
    return [a for a in actions if covers(st, a)]


def is_public_principal(principal: str) -> bool:
    """`*`, or a wildcard ARN such as `arn:aws:iam::*:root` (AWS rejects partial wildcards in
    principals; until then it reads as everyone, never as one account)."""
    return "*" in principal or "?" in principal


def is_account_root(principal: str) -> bool:
    arn = parse_arn(principal)
    return is_account_id(principal) or (arn is not None and arn.is_account_root)


def has_condition_value(st: Statement, key: str, value: str) -> bool:
    for block in st.condition.values():
        if isinstance(block, dict):
            for k, v in block.items():
                if str(k).lower() == key.lower() and value in [str(x).lower() for x in as_list(v)]:
                    return True
    return False


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

    Negations, Null, IfExists and ForAllValues do not narrow (each is true when the key is
    absent, as for a direct call), nor does a value that is only wildcards.
    """
    for operator, block in st.condition.items():
        op = str(operator).lower()
        if not isinstance(block, dict) or op.startswith(("stringnot", "arnnot", "null")):
            continue
        if "ifexists" in op or op.startswith("forallvalues:"):
            continue
        for key, value in block.items():
            k = str(key).lower()
            values = [str(v) for v in as_list(value)]
            if not values or all(v.strip("*?") == "" for v in values):
                continue
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


def reaches_all_keys(st: Statement) -> bool:
    """Whether the statement's resources include every KMS key (of an account/region)."""
    if st.not_resource:
        return not any(action_matches(r, _probe_key_arn(r)) for r in st.resources)
    return any(action_matches(r, _probe_key_arn(r)) for r in st.resources)


DECRYPT_ACTIONS = ("kms:Decrypt", "kms:ReEncryptFrom")


def decrypt_on_all_keys(doc: Any) -> list[tuple[Statement, list[str]]]:
    """Allow statements of an identity policy granting decrypt actions on all keys."""
    items = statements(doc)
    # An unconditional Deny on every resource in the same document cancels those actions; a
    # narrower or conditional Deny leaves some keys open, so it cancels nothing.
    cancelled = {
        a
        for st in items
        if st.effect == "Deny" and not st.condition and not st.not_resource and "*" in st.resources
        for a in covers_any(st, DECRYPT_ACTIONS)
    }
    found = []
    for st in items:
        if not st.allows or not reaches_all_keys(st) or narrows_resource(st):
            continue
        actions = [a for a in covers_any(st, DECRYPT_ACTIONS) if a not in cancelled]
        if actions:
            found.append((st, actions))
    return found


def requires_condition_true(st: Statement, key: str) -> bool:
    """The statement applies only when the boolean condition `key` is true.

    Bool/StringEquals with every value `true`; negations, Null and a value list that also
    admits `false` do not restrict.
    """
    for operator, block in st.condition.items():
        op = str(operator).lower().removesuffix("ifexists")
        if not isinstance(block, dict) or op not in (
            "bool",
            "stringequals",
            "stringequalsignorecase",
        ):
            continue
        for k, v in block.items():
            values = [str(x).lower() for x in as_list(v)]
            if str(k).lower() == key.lower() and values and all(x == "true" for x in values):
                return True
    return False
