"""Who can become a role that can decrypt with a key (role chaining), judged like a key user."""

from __future__ import annotations

from collections import deque
from typing import Any

from kmsguard.access.arn import account_of
from kmsguard.access.trust import Chain
from kmsguard.org_policies import OrgPolicies
from policies.meta import Findings
from policies.rules._principals import PrincipalReach, boundary_of, unknown_reasons
from policies.rules._stack_access_common import ACTION, ASSUME, access_path, identity_docs
from policies.stack.graph import StackView
from policies.stack.principals import StackSubject


def assumers(
    view: StackView,
    where: str,
    decrypters: list[tuple[StackSubject, Chain]],
    assume: PrincipalReach,
    declared: set[str],
    compiled: dict[int, Any],
    findings: Findings,
    org: OrgPolicies,
) -> None:
    """Whoever can become a role that can decrypt is a key user: sts:AssumeRole through the
    role's trust policy, then the role's own access, followed transitively (role chaining).

    Each role is examined once, and only the stack's principals whose policies could reach it
    (or that its trust policy names) are evaluated, so the work stays linear in the stack.
    """
    from kmsguard.access import PolicyDocumentError, evaluate
    from kmsguard.access.trust import ALL_BUT, ANYONE, PRINCIPAL, entries, lets_in_undeclared

    folded = {d.lower() for d in declared}
    stack = assume.arns
    known = {id(p) for p, _ in decrypters}
    queue = deque(decrypters)
    while queue:
        role, chain = queue.popleft()
        role_arn = role.subject.arn
        if role.subject.kind != "role" or role_arn is None:
            continue
        source = role.subject.trust
        if source is not None and not source.known:
            findings.defer(
                findings.meta.finding(
                    "trust-policy-unknown",
                    where,
                    f"the trust policy of role {role_arn} is unknown during preview",
                    {"role": role_arn},
                )
            )
            continue
        trust = source.document if source and isinstance(source.document, dict) else None
        try:
            if trust is None:
                raise PolicyDocumentError("assumeRolePolicy", "missing or not a JSON object")
            ways = entries(trust)
        except PolicyDocumentError as exc:
            findings.defer(
                findings.meta.finding(
                    "trust-policy-unreadable",
                    where,
                    f"cannot tell who can become role {role_arn}: {exc}",
                    {"role": role_arn, "problem": str(exc)},
                )
            )
            continue
        own = account_of(role_arn) or view.account_id
        outside = [e for e in ways if lets_in_undeclared(e, own, stack, folded)]
        if outside:
            findings.violation(
                findings.meta.finding(
                    "role-assumable-by-undeclared",
                    where,
                    f"role {role_arn} can {ACTION} and principals that are not declared key "
                    f"users can assume it: {'; '.join(e.describe() for e in outside)}; path "
                    f"after assuming: {chain.text()}",
                    {
                        "role": role_arn,
                        "assumers": [e.describe() for e in outside],
                        "path": chain.text(),
                    },
                    urn=role.node.urn,
                )
            )
        if any(e.kind in (ANYONE, ALL_BUT) for e in ways):
            continue  # everyone can become it: said above, no need to name each
        named = [e.name for e in ways if e.kind == PRINCIPAL]
        for p in assume.for_resource({role_arn}, named):
            arn = p.subject.arn
            if id(p) in known or arn is None:
                continue
            try:
                decision = evaluate(
                    arn,
                    ASSUME,
                    role_arn,
                    identity_policies=identity_docs(p, compiled),
                    resource_policy=None,
                    trust_policy=trust,
                    permissions_boundary=boundary_of(p),
                    scps=org.scps,
                    rcps=org.rcps,
                )
            except PolicyDocumentError as exc:
                findings.defer(
                    findings.meta.finding(
                        "evaluation-failed",
                        where,
                        f"cannot evaluate whether {arn} can assume {role_arn}: {exc}",
                        {"principal": arn, "role": role_arn, "problem": str(exc)},
                    )
                )
                continue
            if not decision.allowed:
                reasons = unknown_reasons(p)
                if reasons and arn not in declared:
                    findings.defer(
                        findings.meta.finding(
                            "principal-policies-unknown",
                            where,
                            f"whether {arn} can assume {role_arn} depends on policies "
                            f"unknown now ({reasons})",
                            {"principal": arn, "role": role_arn},
                        )
                    )
                continue
            known.add(id(p))
            step = chain.via(f"{ASSUME} {role_arn} ({access_path(decision, None, p)})")
            if arn not in declared:
                findings.violation(
                    findings.meta.finding(
                        "undeclared-key-user",
                        where,
                        f"{arn} can {ACTION} by becoming a role but is not a declared key "
                        f"user; path: {step.text()}",
                        {"principal": arn, "action": ACTION, "path": step.text()},
                        urn=p.node.urn,
                    )
                )
            queue.append((p, step))
