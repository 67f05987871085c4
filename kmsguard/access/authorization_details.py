"""An account's subjects from GetAccountAuthorizationDetails: users with their groups', roles."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote

from kmsguard.access.subject import PolicySource, Subject

# What GetAccountAuthorizationDetails lists an entity's inline policies under.
_INLINE = ("UserPolicyList", "GroupPolicyList", "RolePolicyList")
# The listing's filter: AWS managed policies are left out (over a thousand of them would dwarf
# a small account); the few in use are read apart.
LISTED = ("User", "Group", "Role", "LocalManagedPolicy")
DETAIL_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")


def merge_pages(
    pages: Iterable[Mapping[str, Any]], on_page: Callable[[], None] | None = None
) -> dict[str, list[Any]]:
    """The listing's pages as one listing; `on_page` is told of each page (a call made)."""
    out: dict[str, list[Any]] = {name: [] for name in DETAIL_LISTS}
    for page in pages:
        if on_page is not None:
            on_page()
        for name, items in out.items():
            items.extend(page.get(name, []))
    return out


def policy_document(raw: Any) -> Any:
    """A policy document as IAM hands it over: boto3 decodes it into a dict; the API itself
    URL-encodes the JSON text; a proxy may leave the JSON text. Text that is not JSON is kept
    as it is, for the evaluator to refuse with its own message."""
    if not isinstance(raw, str):
        return raw
    text = unquote(raw) if raw.lstrip().startswith("%7B") else raw
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return raw


def _entries(details: Mapping[str, Any], name: str) -> Iterator[Mapping[str, Any]]:
    items = details.get(name)
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping):
            yield item


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _boundary_arn(entity: Mapping[str, Any]) -> str | None:
    boundary = entity.get("PermissionsBoundary")
    arn = boundary.get("PermissionsBoundaryArn") if isinstance(boundary, Mapping) else None
    return arn if isinstance(arn, str) and arn else None


def _attached_arns(entity: Mapping[str, Any]) -> Iterator[str]:
    for attached in _listed(entity.get("AttachedManagedPolicies")):
        arn = attached.get("PolicyArn") if isinstance(attached, Mapping) else None
        if isinstance(arn, str) and arn:
            yield arn


def referenced_policies(details: Mapping[str, Any]) -> list[str]:
    """Every managed policy an entity of the listing attaches or uses as its boundary, once."""
    arns: dict[str, None] = {}
    for kind in ("UserDetailList", "GroupDetailList", "RoleDetailList"):
        for entity in _entries(details, kind):
            arns.update(dict.fromkeys(_attached_arns(entity)))
            boundary = _boundary_arn(entity)
            if boundary is not None:
                arns[boundary] = None
    return list(arns)


def listed_policies(details: Mapping[str, Any]) -> dict[str, Any]:
    """The default version's document of each managed policy the listing holds, by ARN."""
    found: dict[str, Any] = {}
    for policy in _entries(details, "Policies"):
        arn = policy.get("Arn")
        for version in _listed(policy.get("PolicyVersionList")):
            if isinstance(version, Mapping) and version.get("IsDefaultVersion"):
                doc = version.get("Document")
                if isinstance(arn, str) and doc is not None:
                    found[arn] = policy_document(doc)
    return found


def subjects(
    details: Mapping[str, Any], fetch: Callable[[str], Any] | None = None
) -> list[Subject]:
    """Each user (its own policies, then each of its groups') and role of the listing.

    `fetch(arn)` gives the document of a managed policy the listing leaves out (AWS managed
    ones, read apart), or None; it is asked only for policies a subject uses, once each. A
    policy found nowhere is a source whose document is unknown, with the reason: a judge must
    not read it as "no policy".
    """
    documents = listed_policies(details)

    def source(arn: str, origin: str) -> PolicySource:
        if arn not in documents:
            documents[arn] = None if fetch is None else policy_document(fetch(arn))
        if documents[arn] is None:
            return PolicySource(origin, None, f"managed policy {arn} is not in the listing")
        return PolicySource(origin, documents[arn])

    def attached(entity: Mapping[str, Any], where: str) -> list[PolicySource]:
        out = [
            PolicySource(origin, doc, "" if doc is not None else f"{origin} has no document")
            for key in _INLINE
            for p in _listed(entity.get(key))
            if isinstance(p, Mapping)
            for origin in (f"inline policy {p.get('PolicyName')}{where}",)
            for doc in (policy_document(p.get("PolicyDocument")),)
        ]
        out += [source(arn, f"managed policy {arn}{where}") for arn in _attached_arns(entity)]
        return out

    def boundary(entity: Mapping[str, Any]) -> PolicySource | None:
        arn = _boundary_arn(entity)
        return None if arn is None else source(arn, f"permissions boundary {arn}")

    groups = {
        name: g
        for g in _entries(details, "GroupDetailList")
        if isinstance(name := g.get("GroupName"), str)
    }
    of_group: dict[str, list[PolicySource]] = {}
    found: list[Subject] = []
    for user in _entries(details, "UserDetailList"):
        arn = user.get("Arn")
        if not isinstance(arn, str):
            continue
        docs = attached(user, "")
        member: list[str] = []
        for name in _listed(user.get("GroupList")):
            group = groups.get(name) if isinstance(name, str) else None
            if group is not None:
                if name not in of_group:  # read once, however many members
                    of_group[name] = attached(group, f" of group {name}")
                docs += of_group[name]
                member.append(str(group.get("Arn") or name))
        found.append(Subject(arn, "user", tuple(docs), boundary(user), tuple(member)))
    for role in _entries(details, "RoleDetailList"):
        arn = role.get("Arn")
        if not isinstance(arn, str):
            continue
        trust_doc = policy_document(role.get("AssumeRolePolicyDocument"))
        trust = None if trust_doc is None else PolicySource("trust policy", trust_doc)
        found.append(Subject(arn, "role", tuple(attached(role, "")), boundary(role), trust=trust))
    return found
