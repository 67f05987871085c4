"""Principals outside the stack that can decrypt with a key: the prover's question, re-checked."""

from __future__ import annotations

from typing import Any

from kmsguard.access.arn import account_of
from kmsguard.contract import account_root_arn
from kmsguard.org_policies import OrgPolicies
from policies.meta import Findings
from policies.rules._stack_access_common import ACTION
from policies.stack.principals import StackSubject


def outsiders(
    key_arn: str,
    doc: dict[str, Any],
    where: str,
    principals: list[StackSubject],
    declared: set[str],
    findings: Findings,
    org: OrgPolicies,
    timeout_s: float,
    limit: int,
) -> None:
    """Principals the stack does not declare at all (any account, any name, any condition
    value) that can decrypt: the prover's question, each witness re-checked by the evaluator.
    `principals` are the stack's principals the key policy could allow without naming them
    (all of them for a wildcard principal, else those of accounts whose root it names): they
    are judged by the concrete evaluation, so the prover excludes them.

    The stack's own account is taken as closed: its identities outside the stack are assumed to
    have no IAM policy granting key use; another account's principals are assumed allowed by
    their own IAM policies, as only that account can tell. The prover lists at most `limit`
    kinds of principal before it stops.
    """
    from kmsguard.access import PolicyDocumentError, evaluate, parse_policy
    from kmsguard.access.prove import Key, access_not_granted
    from kmsguard.access.prove.concretize import assumed_identity_policy

    try:
        parsed = parse_policy(doc, kind="resource")
    except PolicyDocumentError as exc:
        findings.defer(
            findings.meta.finding(
                "prover-unanswered",
                where,
                f"cannot prove who else can {ACTION}: {exc}",
                {"reason": str(exc)},
            )
        )
        return
    try:
        key = Key(key_arn)
    except ValueError as exc:
        findings.defer(
            findings.meta.finding(
                "prover-unanswered",
                where,
                f"cannot prove who else can {ACTION}: {exc}",
                {"reason": str(exc)},
            )
        )
        return
    account = key.account
    named = {
        name
        for st in parsed.statements
        if not st.is_deny and not st.not_principal and st.principal is not None
        if st.action_matches(ACTION.lower())
        for name in (*st.principal.arns, *st.principal.others)
    }
    allowed = sorted(
        named
        | declared
        | {p.subject.arn for p in principals if p.subject.arn}
        | {account_root_arn(account)}
    )
    verdict = access_not_granted(
        parsed,
        [ACTION],
        allowed,
        closed_accounts=[account],
        rcps=org.rcps,
        key=key,
        timeout_s=timeout_s,
        limit=limit,
    )
    if verdict.status == "unknown":
        findings.defer(
            findings.meta.finding(
                "prover-unanswered",
                where,
                f"prover query access_not_granted ({ACTION} outside the stack) unanswered: "
                f"{verdict.reason}",
                {"reason": verdict.reason},
            )
        )
        return
    shown = []
    requests = []
    for w in verdict.witnesses:
        if org.rcps or org.scps:
            ids = [assumed_identity_policy(ACTION, key_arn)] if w.identity_assumed else []
            d = evaluate(
                w.principal,
                ACTION,
                key_arn,
                identity_policies=ids,
                resource_policy=doc,
                context=w.context,
                scps=org.scps if account_of(w.principal) == account else (),
                rcps=org.rcps,
            )
            if not d.allowed:
                continue  # the account's SCPs stop this one (RCPs are part of the proof)
        shown.append(w.describe())
        requests.append(w.to_json())
    if not shown and verdict.witnesses and not verdict.complete:
        findings.defer(
            findings.meta.finding(
                "outsiders-stopped-by-scps",
                where,
                f"the {len(verdict.witnesses)} kinds of principal outside the stack found able "
                f"to {ACTION} are all stopped by the configured SCPs; others may not be",
                {"found": len(verdict.witnesses)},
            )
        )
    if shown:
        more = "" if verdict.complete else "; more kinds may exist"
        findings.violation(
            findings.meta.finding(
                "undeclared-outsider",
                where,
                f"principals outside the stack can {ACTION} and are not declared key users: "
                f"{'; '.join(shown)}{more}",
                {"witnesses": requests, "complete": verdict.complete},
            )
        )
