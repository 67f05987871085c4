"""The key side and the principals of dynamodb-table-readers-match-declared, from the stack."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kmsguard.access.key_users import key_users
from policies.document import statements
from policies.grants import key_grants
from policies.meta import Findings
from policies.rules._principals import (
    PrincipalReach,
    arns_for_resource,
    boundary_of,
    readable,
    unknown_reasons,
)
from policies.rules._stack_access_common import default_key_policy
from policies.stack.graph import Node, StackView
from policies.stack.keys import stack_keys
from policies.stack.principals import stack_subjects
from policies.values import Unknown, is_unknown

if TYPE_CHECKING:
    from kmsguard.access.prove import ReaderWitness
    from policies.table_policies import TableFacts


class KeySide:
    """The table's key as the proof takes it: policy, ARN, grants, declared key users."""

    def __init__(self, policy: Any, arn: str | None, users: list[str], note: str = "") -> None:
        self.policy, self.arn, self.users, self.note = policy, arn, users, note
        self.grants: list[dict[str, Any]] = []
        self.identifiers: set[str] = set()  # the key's ARN, id and aliases

    def may_decrypt(self, reach: PrincipalReach) -> set[str] | None:
        """The stack principals that may decrypt with the key: named by its policy or a grant,
        or an identity Allow for kms:Decrypt may reach it; None: anyone may (an AWS managed
        key, a policy naming everyone, or one that cannot be read here)."""
        from kmsguard.access import PolicyDocumentError, parse_policy

        if self.policy is None:
            return None
        try:
            policy = parse_policy(self.policy, kind="resource")
        except PolicyDocumentError:
            return None
        named = {str(g.get("GranteePrincipal")) for g in self.grants}
        for st in policy.statements:
            spec = st.principal
            if st.is_deny:
                continue
            if st.not_principal or spec is None or spec.everyone:
                return None
            named |= set(spec.arns)
        return arns_for_resource([reach], self.identifiers, named)


def key_sides(
    view: StackView, facts: TableFacts, where: str, findings: Findings
) -> list[KeySide] | None:
    """Each policy the table's key may end up with; None: deferred. An AWS managed or owned
    key (or one outside the stack, whose policy the stack does not show) lets DynamoDB's
    side decide alone, which never finds fewer readers."""
    keys = stack_keys(view)
    ref = keys.table_key(facts.node)
    if ref.node is None:
        if is_unknown(ref.value):
            findings.defer(
                findings.meta.finding("key-unknown", where, "its key is unknown during preview")
            )
            return None
        note = (
            " (its key's policy is not in the stack: DynamoDB's side decides)" if ref.value else ""
        )
        return [KeySide(None, None, [], note)]
    key: Node = ref.node
    account = keys.key_account(key)
    out: list[KeySide] = []
    for doc, origin in keys.key_policies(key):
        if isinstance(doc, Unknown):
            findings.defer(
                findings.meta.finding(
                    "key-policy-unknown",
                    where,
                    f"the key policy ({origin}) is unknown during preview",
                    {"origin": origin},
                )
            )
            return None
        if doc is None:
            if not account:
                findings.defer(
                    findings.meta.finding(
                        "key-account-unknown",
                        where,
                        "default key policy but the account id is unknown",
                    )
                )
                return None
            doc = default_key_policy(account)
        side = KeySide(doc, keys.key_arn(key), key_users(statements(doc)))
        side.identifiers = keys.key_identifiers(key) | {keys.key_arn(key)}
        for sg in key_grants(view, key):
            if sg.grant is None:
                findings.defer(
                    findings.meta.finding(
                        "grant-unknown",
                        where,
                        f"{sg.label}: {sg.problem}",
                        {"grant": sg.label, "problem": sg.problem},
                    )
                )
            else:
                side.grants.append(sg.grant)
        out.append(side)
    return out


def identities(view: StackView, findings: Findings) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """The stack's principals' identity policies and boundaries, as the proof takes them."""
    ids: dict[str, list[Any]] = {}
    bounds: dict[str, Any] = {}
    for p in stack_subjects(view):
        arn, kind = p.subject.arn, p.subject.kind
        if arn is None:
            findings.defer(
                findings.meta.finding(
                    "principal-arn-unknown",
                    "",
                    f"the ARN of {kind} {p.node.name!r} is unknown during preview",
                    {"kind": kind, "name": p.node.name},
                )
            )
            continue
        reasons = unknown_reasons(p)
        if reasons:
            findings.defer(
                findings.meta.finding(
                    "principal-policies-unknown",
                    "",
                    f"what {arn} can read depends on policies unknown now ({reasons})",
                    {"principal": arn},
                )
            )
        ids[arn] = [d.document for d in readable(p)]
        boundary = boundary_of(p)
        if boundary is not None:
            bounds[arn] = boundary
    return ids, bounds


SHOWN_OPERATIONS = 6  # a witness's operations beyond it are counted, not listed


def _ops(w: ReaderWitness) -> str:
    ops = list(w.operations or (w.operation,))
    more = f" and {len(ops) - SHOWN_OPERATIONS} more" if len(ops) > SHOWN_OPERATIONS else ""
    return ", ".join(ops[:SHOWN_OPERATIONS]) + more


def said(w: ReaderWitness, stream_view: str | None = None) -> str:
    ctx = {k: v for k, v in (w.read.get("context") or {}).items() if v is not None}
    text = f"{w.principal} ({_ops(w)} on {w.read['resource']}"
    if stream_view and "/stream/" in str(w.read["resource"]):
        text += f", whose records carry {stream_view}"
    if w.decrypt is not None:
        text += "; kms:Decrypt through DynamoDB allowed"
    if ctx:
        text += "; with " + ", ".join(f"{k}={v}" for k, v in ctx.items())
    if w.identity_assumed:
        text += "; if its own IAM policies allow it"
    return text + ")"


def reaching(
    idents: set[str], docs: tuple[Any, Any], reaches: list[PrincipalReach]
) -> set[str] | None:
    """The stack principals whose identity policies matter for the table: those an Allow for a
    read action may let at its resources, and those its policies name; None: all of them (a
    policy naming everyone lets in principals whose own policies never mention the table)."""
    from kmsguard.access import PolicyDocumentError, parse_policy

    named: set[str] = set()
    for doc in docs:
        if doc is None:
            continue
        try:
            policy = parse_policy(doc, kind="resource")
        except PolicyDocumentError:
            return None
        for st in policy.statements:
            spec = st.principal
            if st.not_principal or spec is None or spec.everyone:
                return None
            named |= set(spec.arns)
    return arns_for_resource(reaches, idents, named)


def check_exports(facts: TableFacts, where: str, allowed: set[str], findings: Findings) -> None:
    """Each export of the table writes its items to a bucket of a trusted account."""
    for node in facts.exports:
        owner = node.props.get("s3BucketOwner")
        if is_unknown(owner):
            findings.defer(
                findings.meta.finding(
                    "export-owner-unknown",
                    where,
                    f"the bucket owner of export {node.name!r} is unknown",
                    {"export": node.name},
                )
            )
        elif isinstance(owner, str) and owner and owner not in allowed:
            findings.violation(
                findings.meta.finding(
                    "export-to-untrusted-account",
                    where,
                    f"export {node.name!r} writes its items to a bucket of account {owner}, "
                    "which is not a trusted account",
                    {"export": node.name, "bucketOwner": owner},
                    urn=node.urn,
                )
            )
