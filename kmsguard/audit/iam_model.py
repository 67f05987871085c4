"""GetAccountAuthorizationDetails as pulumi-aws's IAM resources (users, groups, roles, policies)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kmsguard.contract import AwsType

# (type, name, props, arn): what the stack builder registers, in GetAccountAuthorizationDetails'
# order; the ARN is the entity's, so that a finding on an attachment points at its holder.
Item = tuple[str, str, dict[str, Any], str]
Text = Callable[[Any], str]


def _boundary(entity: Mapping[str, Any]) -> dict[str, Any]:
    arn = (entity.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    return {"permissionsBoundary": arn} if arn else {}


def _tags(entity: Mapping[str, Any]) -> dict[str, str]:
    return {str(t.get("Key")): str(t.get("Value")) for t in entity.get("Tags") or []}


def _default_version(policy: Mapping[str, Any]) -> Any:
    for v in policy.get("PolicyVersionList") or []:
        if v.get("IsDefaultVersion"):
            return v.get("Document")
    return None


# A user's or group's inline policies and attachments: (listing key, inline type, attachment type).
_SEPARATE = {
    "user": ("UserPolicyList", AwsType.IAM_USER_POLICY, AwsType.IAM_USER_POLICY_ATTACHMENT),
    "group": ("GroupPolicyList", AwsType.IAM_GROUP_POLICY, AwsType.IAM_GROUP_POLICY_ATTACHMENT),
}


def _policies_of(
    entity: Mapping[str, Any], kind: str, name: str, arn: str, text: Text
) -> list[Item]:
    """The UserPolicy/GroupPolicy and its attachments pulumi-aws models apart from the entity."""
    listing, inline, attachment = _SEPARATE[kind]
    out: list[Item] = [
        (
            inline,
            f"{kind}/{name}/{ip['PolicyName']}",
            {kind: name, "name": ip["PolicyName"], "policy": text(ip["PolicyDocument"])},
            arn,
        )
        for ip in entity.get(listing) or []
    ]
    out += [
        (
            attachment,
            f"{kind}/{name}/{mp['PolicyArn']}",
            {kind: name, "policyArn": mp["PolicyArn"]},
            arn,
        )
        for mp in entity.get("AttachedManagedPolicies") or []
    ]
    return out


def iam_items(details: Mapping[str, list[dict[str, Any]]], text: Text) -> list[Item]:
    """Users (with UserPolicy, UserPolicyAttachment, UserGroupMembership), groups (with
    GroupPolicy, GroupPolicyAttachment), roles (inline and managed policies on the Role, as
    pulumi-aws reads them) and customer managed policies (their default version)."""
    out: list[Item] = []
    for p in details.get("Policies", []):
        doc = _default_version(p)
        out.append(
            (
                AwsType.IAM_POLICY,
                f"policy{p.get('Path', '/')}{p['PolicyName']}",
                {
                    "name": p["PolicyName"],
                    "path": p.get("Path", "/"),
                    "arn": p["Arn"],
                    "policyId": p.get("PolicyId", ""),
                    "policy": text(doc) if doc is not None else "",
                },
                p["Arn"],
            )
        )
    for g in details.get("GroupDetailList", []):
        name, arn = g["GroupName"], g["Arn"]
        out.append(
            (
                AwsType.IAM_GROUP,
                f"group/{name}",
                {"name": name, "path": g.get("Path", "/"), "arn": arn},
                arn,
            )
        )
        out += _policies_of(g, "group", name, arn, text)
    for u in details.get("UserDetailList", []):
        name, arn = u["UserName"], u["Arn"]
        props = {
            "name": name,
            "path": u.get("Path", "/"),
            "arn": arn,
            "uniqueId": u.get("UserId", ""),
            "tags": _tags(u),
            **_boundary(u),
        }
        out.append((AwsType.IAM_USER, f"user/{name}", props, arn))
        out += _policies_of(u, "user", name, arn, text)
        if u.get("GroupList"):
            out.append(
                (
                    AwsType.IAM_USER_GROUP_MEMBERSHIP,
                    f"user/{name}/groups",
                    {"user": name, "groups": list(u["GroupList"])},
                    arn,
                )
            )
    for r in details.get("RoleDetailList", []):
        name, arn = r["RoleName"], r["Arn"]
        props = {
            "name": name,
            "path": r.get("Path", "/"),
            "arn": arn,
            "uniqueId": r.get("RoleId", ""),
            "assumeRolePolicy": text(r.get("AssumeRolePolicyDocument") or ""),
            "inlinePolicies": [
                {"name": ip["PolicyName"], "policy": text(ip["PolicyDocument"])}
                for ip in r.get("RolePolicyList") or []
            ],
            "managedPolicyArns": [mp["PolicyArn"] for mp in r.get("AttachedManagedPolicies") or []],
            "tags": _tags(r),
            **_boundary(r),
        }
        out.append((AwsType.IAM_ROLE, f"role/{name}", props, arn))
    return out
