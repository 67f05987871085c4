"""Pure key policy builder: roles in, a deterministic KMS key policy document out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kmsguard.contract import (
    CALLER_ACCOUNT,
    GRANT_IS_FOR_AWS_RESOURCE,
    KEY_ADMIN_ACTIONS,
    KEY_GRANT_ACTIONS,
    KEY_USER_ACTIONS,
    VIA_SERVICE,
    Sid,
    account_root_arn,
    dynamodb_service_endpoint,
)

POLICY_VERSION = "2012-10-17"


@dataclass(frozen=True)
class KeyPolicyRoles:
    """Who may do what with the key. Order of principals is normalised (sorted, deduplicated)."""

    account_id: str
    region: str
    administrators: Sequence[str] = ()
    users: Sequence[str] = ()
    enable_root_delegation: bool = True
    restrict_to_dynamodb: bool = True
    partition: str = "aws"
    extra_statements: Sequence[dict[str, Any]] = field(default_factory=tuple)


def _principals(arns: Sequence[str]) -> str | list[str]:
    # A single principal is written as a string, as AWS itself returns it; several as a sorted
    # list, so the document (and therefore the diff Pulumi shows) never depends on input order.
    unique = sorted(set(arns))
    return unique[0] if len(unique) == 1 else unique


def build_key_policy(roles: KeyPolicyRoles) -> dict[str, Any]:
    """Return the key policy document for `roles`.

    Statements, in this order, each only when it has a principal:
    account-root delegation, key administrators, key users, grants for AWS resources.
    """
    statements: list[dict[str, Any]] = []
    if roles.enable_root_delegation:
        statements.append(
            {
                "Sid": Sid.ROOT,
                "Effect": "Allow",
                "Principal": {"AWS": account_root_arn(roles.account_id, roles.partition)},
                "Action": "kms:*",
                "Resource": "*",
            }
        )
    if roles.administrators:
        statements.append(
            {
                "Sid": Sid.ADMINS,
                "Effect": "Allow",
                "Principal": {"AWS": _principals(roles.administrators)},
                "Action": list(KEY_ADMIN_ACTIONS),
                "Resource": "*",
            }
        )
    if roles.users:
        users_statement: dict[str, Any] = {
            "Sid": Sid.USERS if roles.restrict_to_dynamodb else Sid.USERS_UNRESTRICTED,
            "Effect": "Allow",
            "Principal": {"AWS": _principals(roles.users)},
            "Action": list(KEY_USER_ACTIONS),
            "Resource": "*",
        }
        if roles.restrict_to_dynamodb:
            users_statement["Condition"] = {
                "StringEquals": {
                    VIA_SERVICE: dynamodb_service_endpoint(roles.region),
                    CALLER_ACCOUNT: roles.account_id,
                }
            }
        statements.append(users_statement)
        statements.append(
            {
                "Sid": Sid.GRANTS,
                "Effect": "Allow",
                "Principal": {"AWS": _principals(roles.users)},
                "Action": list(KEY_GRANT_ACTIONS),
                "Resource": "*",
                "Condition": {"Bool": {GRANT_IS_FOR_AWS_RESOURCE: "true"}},
            }
        )
    statements.extend(roles.extra_statements)
    return {"Version": POLICY_VERSION, "Statement": statements}


def key_policy_json(roles: KeyPolicyRoles) -> str:
    """The document as the canonical JSON string handed to AWS (stable key order, compact)."""
    return json.dumps(build_key_policy(roles), sort_keys=False, separators=(",", ":"))


def statements_by_sid(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Index a policy's statements by Sid (index-based name when a statement has none)."""
    raw = document.get("Statement", [])
    items = raw if isinstance(raw, list) else [raw]
    return {str(st.get("Sid") or f"#{i}"): st for i, st in enumerate(items)}
