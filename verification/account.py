"""What the account holds: its users, groups, roles and their policies, as IAM lists them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LISTED = ["User", "Group", "Role", "LocalManagedPolicy"]


@dataclass(frozen=True)
class Identity:
    """A user or role as GetAccountAuthorizationDetails describes it, its policies resolved."""

    arn: str
    kind: str  # "user" or "role"
    # (where the document comes from, the document), in the order they are evaluated
    policies: tuple[tuple[str, Any], ...]
    boundary: tuple[str, Any] | None = None
    trust: Any = None  # a role's trust policy


class Unreadable(Exception):
    """An attached policy whose document the listing does not hold and IAM does not return."""


def _document(raw: Any) -> Any:
    # boto3 decodes the URL-encoded JSON into a dict; a proxy may leave the JSON text.
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def authorization_details(iam: Any) -> dict[str, list[dict[str, Any]]]:
    """Users, groups, roles and managed policies of the account, every page merged."""
    out: dict[str, list[dict[str, Any]]] = {
        "UserDetailList": [],
        "GroupDetailList": [],
        "RoleDetailList": [],
        "Policies": [],
    }
    # AWS managed policies are left out (over a thousand of them); the few attached ones are
    # fetched one by one.
    pages = iam.get_paginator("get_account_authorization_details").paginate(Filter=LISTED)
    for page in pages:
        for name, items in out.items():
            items.extend(page.get(name, []))
    return out


def identities(details: Mapping[str, Any], fetch_policy: Any = None) -> list[Identity]:
    """Each user (with its groups' policies) and role of the listing, with its policy documents.

    `fetch_policy(arn)` returns the default version's document of a managed policy the listing
    does not hold; without it such a policy raises Unreadable.
    """
    defaults: dict[str, Any] = {}
    for policy in details.get("Policies", []):
        for version in policy.get("PolicyVersionList", []):
            if version.get("IsDefaultVersion"):
                defaults[policy["Arn"]] = _document(version.get("Document"))

    def managed(arn: str) -> Any:
        if arn not in defaults:
            if fetch_policy is None:
                raise Unreadable(f"managed policy {arn} is not in the listing")
            defaults[arn] = _document(fetch_policy(arn))
        return defaults[arn]

    def attached(entity: Mapping[str, Any], where: str) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for key in ("UserPolicyList", "GroupPolicyList", "RolePolicyList"):
            for p in entity.get(key, []):
                doc = _document(p["PolicyDocument"])
                out.append((f"inline policy {p['PolicyName']}{where}", doc))
        for p in entity.get("AttachedManagedPolicies", []):
            out.append((f"managed policy {p['PolicyArn']}{where}", managed(p["PolicyArn"])))
        return out

    def boundary(entity: Mapping[str, Any]) -> tuple[str, Any] | None:
        arn = (entity.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        return (f"permissions boundary {arn}", managed(arn)) if arn else None

    groups = {g["GroupName"]: g for g in details.get("GroupDetailList", [])}
    found: list[Identity] = []
    for user in details.get("UserDetailList", []):
        docs = attached(user, "")
        for name in user.get("GroupList", []):
            group = groups.get(name)
            if group is not None:
                docs += attached(group, f" of group {name}")
        found.append(Identity(user["Arn"], "user", tuple(docs), boundary(user)))
    for role in details.get("RoleDetailList", []):
        trust = _document(role.get("AssumeRolePolicyDocument"))
        found.append(
            Identity(role["Arn"], "role", tuple(attached(role, "")), boundary(role), trust)
        )
    return found
