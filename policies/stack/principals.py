"""The stack's IAM users and roles as Subjects: each with every policy that reaches it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kmsguard.access.subject import PolicySource, Subject, SubjectKind
from kmsguard.contract import AwsType
from policies.managed import managed_policy_document, managed_policy_name
from policies.stack.graph import Node, StackView, text
from policies.values import DocumentError, Unknown, is_unknown, load_document


@dataclass(frozen=True)
class StackSubject:
    """A user or role of the stack: the Subject IAM authorizes, and the resource declaring it
    (findings name and point at that resource)."""

    subject: Subject
    node: Node


def source(origin: str, value: Any, problem: str = "") -> PolicySource:
    """A policy document as the stack gives it.

    Unknown during preview: no document, and `problem` (else "<origin> unknown") says so.
    Absent or not a policy document (not JSON, not an object): kept as written with why, so
    it stays known; AWS refuses such a resource at deploy, so it grants nothing, and the rules
    read only documents that parsed (dicts).
    """
    try:
        doc = load_document(value)
    except DocumentError as exc:
        return PolicySource(origin, value, str(exc))
    if isinstance(doc, Unknown):
        return PolicySource(origin, None, problem or f"{origin} unknown")
    if doc is None:
        return PolicySource(origin, "", problem or "no policy document")
    return PolicySource(origin, doc)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


class _Collector:
    """Walks the view from each user and role to the policies reaching it."""

    def __init__(self, view: StackView) -> None:
        self.view = view
        self._policy_by_arn: dict[str, Node] | None = None

    def subject(self, node: Node) -> Subject:
        kind: SubjectKind = "user" if node.type == AwsType.IAM_USER else "role"
        arn = text(node.props.get("arn")) or self._derive_arn(node, kind)
        policies = self._own(node, kind)
        groups: list[Node] = []
        if kind == "user":
            groups = self._groups_of(node)
            for group in groups:
                policies += self._group_policies(group)
        else:
            policies += self._role_props(node)
        raw_boundary = node.props.get("permissionsBoundary")
        boundary = None
        if raw_boundary is not None and raw_boundary != "":
            boundary = self._attached(node, raw_boundary, "permissionsBoundary")
        trust = None
        if kind == "role":
            trust = source(f"trust policy of role {node.name}", node.props.get("assumeRolePolicy"))
        return Subject(
            arn,
            kind,
            tuple(policies),
            boundary,
            groups=tuple(
                text(g.props.get("arn")) or text(g.props.get("name")) or g.name for g in groups
            ),
            trust=trust,
        )

    def _derive_arn(self, node: Node, kind: str) -> str | None:
        name = text(node.props.get("name"))
        if not name or not self.view.account_id:
            return None
        path = text(node.props.get("path")) or "/"
        return f"arn:aws:iam::{self.view.account_id}:{kind}{path}{name}"

    def _own(self, node: Node, kind: str) -> list[PolicySource]:
        """Inline policies, then attachments (UserPolicyAttachment/RolePolicyAttachment, then
        PolicyAttachment), in stack order within each."""
        inline_type = AwsType.IAM_USER_POLICY if kind == "user" else AwsType.IAM_ROLE_POLICY
        attach_type = (
            AwsType.IAM_USER_POLICY_ATTACHMENT
            if kind == "user"
            else AwsType.IAM_ROLE_POLICY_ATTACHMENT
        )
        refs = self.view.referrers
        out = [
            source(f"{n.type.split(':')[-1]} {n.name}", n.props.get("policy"))
            for n in refs(inline_type, kind, node)  # UserPolicy.user / RolePolicy.role
        ]
        for n in refs(attach_type, kind, node):
            out.append(self._attached(n, n.props.get("policyArn")))
        for n in refs(AwsType.IAM_POLICY_ATTACHMENT, kind + "s", node):
            out.append(self._attached(n, n.props.get("policyArn")))
        return out

    def _role_props(self, role: Node) -> list[PolicySource]:
        """A role's own inlinePolicies and managedPolicyArns properties."""
        out = []
        for prop in ("inlinePolicies", "managedPolicyArns"):
            if is_unknown(role.props.get(prop)):
                out.append(PolicySource(f"{prop} of role {role.name}", None, f"{prop} unknown"))
        for i, item in enumerate(_list(role.props.get("inlinePolicies"))):
            if isinstance(item, dict):
                out.append(source(f"inline policy #{i} of role {role.name}", item.get("policy")))
        for arn in _list(role.props.get("managedPolicyArns")):
            out.append(self._attached(role, arn))
        return out

    def _groups_of(self, user: Node) -> list[Node]:
        """Groups of the stack the user belongs to (GroupMembership, UserGroupMembership)."""
        out: list[Node] = []
        for n in self.view.referrers(AwsType.IAM_GROUP_MEMBERSHIP, "users", user):
            out.extend(self.view.targets(n, "group", AwsType.IAM_GROUP))
        for n in self.view.referrers(AwsType.IAM_USER_GROUP_MEMBERSHIP, "user", user):
            out.extend(self.view.targets(n, "groups", AwsType.IAM_GROUP))
        return list({id(g): g for g in out}.values())

    def _group_policies(self, group: Node) -> list[PolicySource]:
        via = f" (via group {group.name})"
        refs = self.view.referrers
        out = [
            source(f"GroupPolicy {n.name}{via}", n.props.get("policy"))
            for n in refs(AwsType.IAM_GROUP_POLICY, "group", group)
        ]
        for n in refs(AwsType.IAM_GROUP_POLICY_ATTACHMENT, "group", group):
            out.append(self._attached(n, n.props.get("policyArn"), via=via))
        for n in refs(AwsType.IAM_POLICY_ATTACHMENT, "groups", group):
            out.append(self._attached(n, n.props.get("policyArn"), via=via))
        return out

    def _attached(
        self, holder: Node, arn: Any, prop: str = "policyArn", via: str = ""
    ) -> PolicySource:
        """The policy an ARN property names: the stack's own Policy (by dependency or ARN), an
        AWS managed policy from the catalog, or unknown (outside the stack)."""
        for urn in holder.dep_urns(prop):
            n = self.view.by_urn.get(urn)
            if n is not None and n.type == AwsType.IAM_POLICY:
                origin = f"Policy {n.name} (attached by {holder.name}){via}"
                return source(origin, n.props.get("policy"))
        if is_unknown(arn):
            return PolicySource(f"attachment {holder.name}{via}", None, "policy ARN unknown")
        if not isinstance(arn, str):
            return PolicySource(f"attachment {holder.name}{via}", "", "no policy ARN")
        name = managed_policy_name(arn)
        if name:
            doc = managed_policy_document(arn)
            if doc is None:
                problem = f"AWS managed policy {arn} not in the catalog"
                return PolicySource(f"AWS managed {arn}{via}", None, problem)
            return PolicySource(f"AWS managed {name}{via}", doc)
        n = self._policy_named_by_arn(arn)
        if n is not None:
            return source(f"Policy {n.name}{via}", n.props.get("policy"))
        problem = f"customer managed policy {arn} is outside the stack"
        return PolicySource(f"policy {arn}{via}", None, problem)

    def _policy_named_by_arn(self, arn: str) -> Node | None:
        if self._policy_by_arn is None:
            self._policy_by_arn = {}
            for n in self.view.of_type(AwsType.IAM_POLICY):
                own = text(n.props.get("arn"))
                if own:
                    self._policy_by_arn.setdefault(own, n)
        return self._policy_by_arn.get(arn)


def _collect(view: StackView) -> list[StackSubject]:
    collector = _Collector(view)
    return [
        StackSubject(collector.subject(node), node)
        for node in view.of_type(AwsType.IAM_USER, AwsType.IAM_ROLE)
    ]


def stack_subjects(view: StackView) -> list[StackSubject]:
    """The stack's users and roles in stack order, collected once per view."""
    return view.collected(_collect)
