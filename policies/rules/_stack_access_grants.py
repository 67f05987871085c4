"""Grants on a key that let a principal who is not a declared key user decrypt."""

from __future__ import annotations

from typing import Any

from kmsguard.access.arn import parse_arn
from kmsguard.org_policies import OrgPolicies
from policies.grants import StackGrant, satisfying_context
from policies.meta import Findings
from policies.rules._principals import PrincipalReach, boundary_of, readable
from policies.rules._stack_access_common import ACTION


def grant_caller(grantee: str) -> str:
    """Who uses a grant: a role's grant is used by its sessions (capped by its boundary)."""
    arn = parse_arn(grantee)
    if arn is not None and arn.service == "iam" and arn.resource.startswith("role/"):
        name = arn.resource.rsplit("/", 1)[-1]
        return f"arn:{arn.partition}:sts::{arn.account}:assumed-role/{name}/grant-use"
    return grantee


def check_grant(
    where: str,
    key_arn: str,
    doc: dict[str, Any],
    sg: StackGrant,
    reach: PrincipalReach,
    declared: set[str],
    findings: Findings,
    org: OrgPolicies,
) -> None:
    """A violation when the grant lets a principal that is not a declared key user decrypt."""
    from kmsguard.access import PolicyDocumentError, evaluate, parse_grant

    assert sg.grant is not None
    grantee = str(sg.grant["GranteePrincipal"])
    try:
        grant = parse_grant(sg.grant, sg.label)
    except PolicyDocumentError as exc:
        findings.violation(
            findings.meta.finding(
                "grant-malformed",
                where,
                str(exc),
                {"grant": sg.label, "problem": str(exc)},
                urn=sg.node.urn,
            )
        )
        return
    if ACTION.lower() not in grant.operations or grant.for_aws_resource:
        return
    if grantee in declared or grantee.lower() in {d.lower() for d in declared}:
        return
    holder = next(iter(reach.named(grantee)), None)
    docs = [d.document for d in readable(holder)] if holder else []
    boundary = boundary_of(holder) if holder else None
    try:
        decision = evaluate(
            grant_caller(grantee),
            ACTION,
            key_arn,
            identity_policies=docs,
            resource_policy=doc,
            context=satisfying_context(sg.grant),
            grants=[grant],
            permissions_boundary=boundary,
            scps=org.scps,
            rcps=org.rcps,
        )
    except PolicyDocumentError as exc:
        findings.defer(
            findings.meta.finding(
                "evaluation-failed",
                where,
                f"cannot evaluate {sg.label} for {grantee}: {exc}",
                {"grant": sg.label, "principal": grantee, "problem": str(exc)},
            )
        )
        return
    if decision.allowed and any(r.layer == "grants" for r in decision.statements):
        findings.violation(
            findings.meta.finding(
                "undeclared-grantee",
                where,
                f"{sg.label} lets {grantee} {ACTION} but it is not a declared key user "
                f"(constraints: {grant.constraints_text()})",
                {
                    "grant": sg.label,
                    "principal": grantee,
                    "constraints": grant.constraints_text(),
                },
                urn=sg.node.urn,
            )
        )
