"""The stack's principals that can decrypt with a key on their own: directly or via DynamoDB."""

from __future__ import annotations

from typing import Any

from kmsguard.access.arn import account_of
from kmsguard.access.dynamodb_context import decrypt_context, via_dynamodb
from kmsguard.access.trust import Chain
from kmsguard.contract import AwsType
from kmsguard.org_policies import OrgPolicies
from policies.meta import Findings
from policies.rules._principals import boundary_of, unknown_reasons
from policies.rules._stack_access_common import ACTION, access_path, compile_once, identity_docs
from policies.stack.graph import Node, StackView
from policies.stack.keys import stack_keys
from policies.stack.principals import StackSubject


def _table_names_by_key(view: StackView) -> dict[str, tuple[str, ...]]:
    """The names of the stack's tables each key encrypts (by key URN), read once per stack."""
    keys = stack_keys(view)
    out: dict[str, list[str]] = {}
    for table in view.of_type(AwsType.DYNAMODB_TABLE):
        ref = keys.table_key(table)
        name = table.props.get("name")
        if ref.node is not None and isinstance(name, str) and name:
            out.setdefault(ref.node.urn, []).append(name)
    return {urn: tuple(names) for urn, names in out.items()}


def _contexts(
    region: str, tables: tuple[str, ...], caller_account: str | None
) -> list[dict[str, str] | None]:
    """A direct call, then the decrypt DynamoDB makes for the caller on each table the key
    encrypts (service, caller account and encryption context, as the sandbox and the prover
    present it); without a known table, DynamoDB's service and the caller's account alone."""
    via: list[dict[str, str] | None] = [decrypt_context(region, t, caller_account) for t in tables]
    return [None, *(via or [via_dynamodb(region, caller_account)])]


def direct_users(
    view: StackView,
    key: Node,
    key_arn: str,
    doc: dict[str, Any],
    where: str,
    candidates: list[StackSubject],
    declared: set[str],
    compiled: dict[int, Any],
    findings: Findings,
    org: OrgPolicies,
) -> list[tuple[StackSubject, Chain]]:
    """A violation for each candidate that can decrypt and is not declared (a deferral when its
    access depends on what is unknown now); returns the roles that can, with how."""
    from kmsguard.access import PolicyDocumentError, who_can

    tables = view.collected(_table_names_by_key).get(key.urn, ())
    key_policy = compile_once(doc, "resource", {})
    # Roles that can decrypt, with how: whoever can become one of them is a key user too.
    decrypters: list[tuple[StackSubject, Chain]] = []
    for p in candidates:
        arn = p.subject.arn
        if arn is None:
            findings.defer(
                findings.meta.finding(
                    "principal-arn-unknown",
                    where,
                    f"the ARN of {p.subject.kind} {p.node.name!r} is unknown during preview",
                    {"kind": p.subject.kind, "name": p.node.name},
                )
            )
            continue
        unknown = unknown_reasons(p)
        docs = identity_docs(p, compiled)
        boundary = boundary_of(p)
        bounds = {arn: boundary} if boundary is not None else None
        try:
            decisions = [
                who_can(
                    ACTION,
                    key_arn,
                    key_policy,
                    {arn: docs},
                    ctx,
                    boundaries=bounds,
                    scps=org.scps,
                    rcps=org.rcps,
                )[arn]
                for ctx in _contexts(view.region(), tables, account_of(arn))
            ]
        except PolicyDocumentError as exc:
            findings.defer(
                findings.meta.finding(
                    "evaluation-failed",
                    where,
                    f"cannot evaluate access of {arn}: {exc}",
                    {"principal": arn, "problem": str(exc)},
                )
            )
            continue
        allowed = next((d for d in decisions if d.allowed), None)
        if allowed is not None and p.subject.kind == "role":
            decrypters.append(
                (p, Chain.start(f"{ACTION} as {arn}: {access_path(allowed, doc, p)}"))
            )
        if allowed is not None and arn not in declared:
            findings.violation(
                findings.meta.finding(
                    "undeclared-key-user",
                    where,
                    f"{arn} can {ACTION} but is not a declared key user; path: "
                    f"{access_path(allowed, doc, p)}",
                    {"principal": arn, "action": ACTION, "path": access_path(allowed, doc, p)},
                    urn=p.node.urn,
                )
            )
        elif allowed is None and unknown and arn not in declared:
            findings.defer(
                findings.meta.finding(
                    "principal-policies-unknown",
                    where,
                    f"access of {arn} depends on policies unknown now ({unknown})",
                    {"principal": arn},
                )
            )
    return decrypters
