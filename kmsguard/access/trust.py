"""Who a role's trust policy lets become the role: named principals, accounts, services, anyone."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from kmsguard.access.errors import PolicyDocumentError
from kmsguard.access.policy import Policy, parse_policy

# The calls that return the role's credentials; TagSession and SetSourceIdentity only go with one.
BECOME_ACTIONS = ("sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity")

ANYONE = "anyone"  # Principal "*" or {"AWS": "*"}
ALL_BUT = "all-but"  # Allow with NotPrincipal: everyone it does not list
ACCOUNT = "account"  # an account id or its root: that account's IAM decides who
PRINCIPAL = "principal"  # one IAM user, role, session or root ARN
SERVICE = "service"  # an AWS service principal, acting as the role
FEDERATED = "federated"  # identities of an OIDC or SAML provider
CANONICAL = "canonical"  # a CanonicalUser id


@dataclass(frozen=True)
class Entry:
    """One way into the role that an Allow statement of its trust policy opens.

    Deny statements and conditions are not used to narrow the entries: they are a superset of
    who can become the role, so a finding can be a false alarm but never a miss.
    """

    kind: str
    name: str  # as written: an ARN, an account id, a service or provider name, "*"
    statement: str  # "statement 0" or "statement 'Sid'"
    conditional: bool  # the statement has a Condition

    def describe(self) -> str:
        what = {
            ANYONE: "any principal of any account",
            ALL_BUT: f"any principal but {self.name}",
            ACCOUNT: f"any principal of account {self.name} its IAM policies allow",
            PRINCIPAL: self.name,
            SERVICE: f"the service {self.name}",
            FEDERATED: f"identities of {self.name}",
            CANONICAL: f"canonical user {self.name}",
        }[self.kind]
        when = ", when its conditions hold" if self.conditional else ""
        return f"{what} (trust policy {self.statement}{when})"


def _raw_statements(doc: Mapping[str, Any]) -> list[Any]:
    raw = doc.get("Statement", [])
    return raw if isinstance(raw, list) else [raw]


def _values(value: Any) -> list[str]:
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]


def entries(doc: str | bytes | Mapping[str, Any] | Policy) -> list[Entry]:
    """The ways into a role its trust policy opens (raises PolicyDocumentError when invalid)."""
    try:
        policy = parse_policy(doc, kind="trust")
    except PolicyDocumentError as exc:
        raise exc.within("trust") from None
    raw = _raw_statements(policy.document)
    actions = [a.lower() for a in BECOME_ACTIONS]
    out: list[Entry] = []
    for st in policy.statements:
        if st.is_deny or not any(st.action_matches(a) for a in actions):
            continue
        label = f"statement {st.sid!r}" if st.sid else f"statement {st.index}"
        cond = bool(st.clauses) or st.condition is not None
        source = raw[st.index] if st.index < len(raw) and isinstance(raw[st.index], Mapping) else {}
        if st.not_principal:
            listed = source.get("NotPrincipal")
            names = sorted(
                v
                for vals in (listed.values() if isinstance(listed, Mapping) else [listed])
                for v in _values(vals)
            )
            out.append(Entry(ALL_BUT, ", ".join(names) or "*", label, cond))
            continue
        spec = st.principal
        if spec is None:
            raise PolicyDocumentError(f"trust.Statement[{st.index}]", "has no Principal")
        if spec.everyone:
            out.append(Entry(ANYONE, "*", label, cond))
        out += [Entry(ACCOUNT, a, label, cond) for a in sorted(spec.accounts)]
        out += [Entry(PRINCIPAL, a, label, cond) for a in sorted(spec.arns)]
        principal = source.get("Principal")
        if isinstance(principal, Mapping):
            for key, kind in (("Service", SERVICE), ("Federated", FEDERATED)):
                out += [Entry(kind, v, label, cond) for v in sorted(_values(principal.get(key)))]
            out += [
                Entry(CANONICAL, v, label, cond)
                for v in sorted(_values(principal.get("CanonicalUser")))
            ]
    return out


def lets_in_undeclared(
    entry: Entry, account: str, judged: AbstractSet[str], declared: AbstractSet[str]
) -> bool:
    """Whether a way into a role of `account` lets in someone neither judged nor declared.

    `judged` (lower-cased ARNs) are the principals the caller evaluates one by one with the
    trust policy; `declared` (lower-cased) those allowed anyway. The role's own account (its
    root) lets in only principals of that account its IAM allows: the caller judges them (all
    it knows of). A service principal assumes the role to act as it, for whoever may pass it
    the role (iam:PassRole, not followed here).
    """
    if entry.kind in (ANYONE, ALL_BUT):
        return True
    if entry.kind == SERVICE:
        return False
    if entry.kind == ACCOUNT:
        root = f":iam::{entry.name}:root"  # in any partition
        return entry.name != account and not any(d.endswith(root) for d in declared)
    if entry.kind == PRINCIPAL and entry.name.lower() in judged:
        return False
    return entry.name.lower() not in declared


# Steps a chain's text shows before it summarises the rest.
SHOWN_STEPS = 8


@dataclass(frozen=True)
class Chain:
    """How a principal gets to an access: sts:AssumeRole steps, then the access itself.

    Chains share their tails, so each costs one node however long it is, and its text shows at
    most SHOWN_STEPS steps: findings about a long chain of roles stay linear in its length.
    """

    step: str
    then: Chain | None = None
    depth: int = 0  # sts:AssumeRole steps before the access
    last: str = ""  # the access at the end

    @staticmethod
    def start(access: str) -> Chain:
        return Chain(access, None, 0, access)

    def via(self, step: str) -> Chain:
        """This chain, reached by one more step first."""
        return Chain(step, self, self.depth + 1, self.last)

    def text(self) -> str:
        parts: list[str] = []
        node: Chain | None = self
        while node is not None and len(parts) < SHOWN_STEPS:
            parts.append(node.step)
            node = node.then
        if node is not None:
            parts += [f"{node.depth} more sts:AssumeRole steps", node.last]
        return ", then ".join(parts)
