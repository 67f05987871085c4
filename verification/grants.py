"""The key's grants as the admin lists them: a grant to an undeclared principal is a finding."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmsguard import access
from kmsguard.access.arn import arn_fields
from kmsguard.aws_errors import error_code
from verification.outputs import StackFacts
from verification.verdicts import MISMATCH, NOT_VERIFIABLE, PASS, ConfigRow

CHECK = "key.grants"


def list_grants(kms: Any, key_arn: str) -> list[dict[str, Any]]:
    """Every grant on the key (all pages), in ListGrants shape."""
    grants: list[dict[str, Any]] = []
    for page in kms.get_paginator("list_grants").paginate(KeyId=key_arn):
        grants.extend(page.get("Grants", []))
    return grants


def short_principal(arn: str) -> str:
    """`user/x`, `role/r`, `assumed-role/r/s`: the part of an ARN a reader recognises."""
    parts = arn_fields(arn)
    return parts[5] if parts is not None else arn


def _declared(facts: StackFacts) -> set[str]:
    return {a.lower() for a in facts.key_user_arns}


def grant_findings(grants: list[dict[str, Any]], facts: StackFacts) -> list[ConfigRow]:
    """One MISMATCH row per grant whose grantee is neither a declared key user nor an AWS
    service acting for a resource (DynamoDB's table grant); a PASS row when there is none."""
    rows: list[ConfigRow] = []
    declared = _declared(facts)
    for i, raw in enumerate(grants):
        try:
            grant = access.parse_grant(
                {k: v for k, v in raw.items() if k != "CreationDate"}, f"grant[{i}]"
            )
        except access.PolicyDocumentError as exc:
            rows.append(ConfigRow(CHECK, "", "", NOT_VERIFIABLE, f"unreadable grant: {exc}"))
            continue
        if grant.for_aws_resource or grant.grantee.lower() in declared:
            continue
        ops = ", ".join(str(o) for o in raw.get("Operations", []))
        rows.append(
            ConfigRow(
                f"{CHECK}[{grant.short_id}]",
                "only declared key users and AWS services",
                f"grant {grant.short_id} lets {short_principal(grant.grantee)} {ops}",
                MISMATCH,
                f"grantee {grant.grantee} is not a declared key user; "
                f"{grant.constraints_text()}; remove it with RevokeGrant "
                f"(GrantId {grant.grant_id}) or declare the principal as a key user",
            )
        )
    if not rows:
        who = "declared key users and AWS services" if grants else "no grants"
        rows.append(ConfigRow(CHECK, "only declared key users and AWS services", who, PASS))
    return rows


def check_grants(kms: Any, facts: StackFacts) -> list[ConfigRow]:
    try:
        grants = list_grants(kms, facts.key_arn)
    except (ClientError, BotoCoreError) as exc:
        return [ConfigRow(CHECK, "", "", NOT_VERIFIABLE, f"ListGrants failed ({error_code(exc)})")]
    return grant_findings(grants, facts)
