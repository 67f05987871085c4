"""A view of the stack for cross-resource rules: tables to keys, keys to policies, principals."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kmsguard.contract import AwsType
from policies.deployer import deploying_account
from policies.document import account_of
from policies.managed import managed_policy_document, managed_policy_name
from policies.values import UNKNOWN, DocumentError, Unknown, get, is_unknown, load_document, plain

AWS_DEFAULT_DYNAMODB_ALIAS = "alias/aws/dynamodb"
# Group membership types (not in kmsguard.contract yet: the program registers none).
_ACCOUNT = re.compile(r"\b(\d{12})\b")


@dataclass
class Node:
    """One resource of the stack, props unwrapped."""

    type: str
    urn: str
    name: str
    props: dict[str, Any]
    prop_deps: dict[str, list[str]]
    deps: list[str]

    def dep_urns(self, prop: str) -> list[str]:
        return self.prop_deps.get(prop, [])


@dataclass
class PolicyDoc:
    """An identity policy reaching a principal: its document (or UNKNOWN) and where it came from."""

    origin: str
    document: dict[str, Any] | Unknown | None
    problem: str = ""


@dataclass
class Principal:
    node: Node
    kind: str  # user | role
    arn: str | None
    policies: list[PolicyDoc] = field(default_factory=list)
    # The permissionsBoundary policy, when the user or role has one.
    boundary: PolicyDoc | None = None


@dataclass
class KeyRef:
    """What a table's kmsKeyArn points at."""

    node: Node | None  # the key in this stack, when found
    value: str | Unknown | None  # the literal value given
    via: str  # how the link was established


def _node(r: Any) -> Node:
    props = plain(getattr(r, "props", {}))
    deps = {
        str(k): [getattr(d, "urn", str(d)) for d in (v or [])]
        for k, v in (getattr(r, "property_dependencies", None) or {}).items()
    }
    return Node(
        type=str(getattr(r, "resource_type", "")),
        urn=str(getattr(r, "urn", "")),
        name=str(getattr(r, "name", "")),
        props=props if isinstance(props, dict) else {},
        prop_deps=deps,
        deps=[getattr(d, "urn", str(d)) for d in (getattr(r, "dependencies", None) or [])],
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value and not is_unknown(value) else None


class StackView:
    def __init__(self, resources: Iterable[Any], account_id: str = "") -> None:
        items = list(resources)
        self.nodes = [_node(r) for r in items]
        self.by_urn = {n.urn: n for n in self.nodes}
        self.account_id = (
            account_id
            or next((a for r in items if (a := deploying_account(r))), "")
            or self._infer_account()
        )
        self._index: dict[str, Node] | None = None
        self._base_index: dict[str, Node] | None = None
        self._by_type: dict[str, list[Node]] = {}
        for n in self.nodes:
            self._by_type.setdefault(n.type, []).append(n)

    def of_type(self, *types: str) -> list[Node]:
        return [n for t in types for n in self._by_type.get(t, [])]

    def _infer_account(self) -> str:
        # The account in the known ARNs of the stack's own resources. Principals named in policy
        # documents may belong to any account, so they never decide the stack's.
        counts: dict[str, int] = {}
        for n in self.nodes:
            v = _str(n.props.get("arn"))
            for m in _ACCOUNT.findall(v or ""):
                counts[m] = counts.get(m, 0) + 1
        return max(counts, key=lambda k: counts[k]) if counts else ""

    # --- keys -----------------------------------------------------------------------------

    def _key_index(self) -> dict[str, Node]:
        """Identifier (ARN, key id, alias name or ARN) -> key, built once per view."""
        index = self._index
        if index is None:
            index = {}
            for key in self.of_type(AwsType.KMS_KEY):
                for k in ("arn", "keyId", "id"):
                    ident = _str(key.props.get(k))
                    if ident:
                        index.setdefault(ident, key)
            self._base_index = dict(index)
            for alias in self.of_type(AwsType.KMS_ALIAS):
                target = self.alias_target(alias)
                if target is not None:
                    for k in ("name", "arn"):
                        ident = _str(alias.props.get(k))
                        if ident:
                            index.setdefault(ident, target)
            self._index = index
        return index

    def key_identifiers(self, key: Node) -> set[str]:
        return {ident for ident, node in self._key_index().items() if node is key}

    def alias_target(self, alias: Node) -> Node | None:
        for urn in alias.dep_urns("targetKeyId"):
            n = self.by_urn.get(urn)
            if n is not None and n.type == AwsType.KMS_KEY:
                return n
        target = _str(alias.props.get("targetKeyId"))
        return self._key_by_identifier(target) if target else None

    def _key_by_identifier(self, ident: str) -> Node | None:
        if self._base_index is None:
            self._key_index()
        return (self._base_index or {}).get(ident)

    def table_key(self, table: Node) -> KeyRef:
        value = get(table.props, "serverSideEncryption", "kmsKeyArn")
        if isinstance(value, str) and value:
            return KeyRef(self._key_index().get(value), value, "value")
        if not is_unknown(value):
            # Absent or empty: DynamoDB uses the AWS managed key, whatever else the
            # serverSideEncryption block depends on.
            return KeyRef(None, None, "none")
        # Unknown: the value is still to come from what the property depends on.
        for urn in table.dep_urns("serverSideEncryption"):
            n = self.by_urn.get(urn)
            if n is not None and n.type == AwsType.KMS_KEY:
                return KeyRef(n, value, "property dependency")
            if n is not None and n.type == AwsType.KMS_ALIAS:
                return KeyRef(self.alias_target(n), value, "property dependency on an alias")
        return KeyRef(None, value if is_unknown(value) else None, "none")

    def key_policy(self, key: Node) -> tuple[dict[str, Any] | Unknown | None, str]:
        """The key's policy document and its origin (inline, KeyPolicy resource or AWS default)."""
        return self.key_policies(key)[0]

    def key_policies(self, key: Node) -> list[tuple[dict[str, Any] | Unknown | None, str]]:
        """Every policy declared for the key, the one AWS ends up with first.

        A KeyPolicy resource is applied after the key, so it wins; when the key also has an
        inline policy, both are returned: each `up` may apply either, so both must be safe.
        """
        out: list[tuple[dict[str, Any] | Unknown | None, str]] = []
        for kp in self.of_type(AwsType.KMS_KEY_POLICY):
            linked = any(self.by_urn.get(u) is key for u in kp.dep_urns("keyId")) or _str(
                kp.props.get("keyId")
            ) in self.key_identifiers(key)
            if linked:
                out.append((self._doc(kp.props.get("policy")), f"KeyPolicy {kp.name}"))
        doc = self._doc(key.props.get("policy"))
        if doc is not None:
            out.append((doc, "inline policy"))
        return out or [(None, "AWS default key policy")]

    @staticmethod
    def _doc(value: Any) -> dict[str, Any] | Unknown | None:
        try:
            return load_document(value)
        except DocumentError:
            return None

    def key_arn(self, key: Node) -> str:
        arn = _str(key.props.get("arn"))
        if arn:
            return arn
        # Preview: the ARN is unknown; a stable placeholder in the right account stands for it.
        return f"arn:aws:kms:{self.region()}:{self.account_id or '000000000000'}:key/{key.name}"

    def region(self) -> str:
        for n in self.nodes:
            m = re.match(r"arn:[\w-]+:(?:kms|dynamodb):([\w-]+):", _str(n.props.get("arn")) or "")
            if m:
                return m.group(1)
            if n.type == AwsType.PROVIDER and _str(n.props.get("region")):
                return str(n.props["region"])
        return "us-east-1"

    # --- principals -----------------------------------------------------------------------

    def principals(self) -> list[Principal]:
        out: list[Principal] = []
        for node in self.of_type(AwsType.IAM_USER, AwsType.IAM_ROLE):
            kind = "user" if node.type == AwsType.IAM_USER else "role"
            arn = _str(node.props.get("arn")) or self._derive_arn(node, kind)
            p = Principal(node, kind, arn)
            self._collect_policies(p)
            boundary = node.props.get("permissionsBoundary")
            if boundary is not None and boundary != "":
                p.boundary = self._attached(node, boundary, "permissionsBoundary")
            out.append(p)
        return out

    def _derive_arn(self, node: Node, kind: str) -> str | None:
        name = _str(node.props.get("name"))
        if not name or not self.account_id:
            return None
        path = _str(node.props.get("path")) or "/"
        return f"arn:aws:iam::{self.account_id}:{kind}{path}{name}"

    def _refers_to(self, holder: Node, prop: str, target: Node) -> bool:
        if any(self.by_urn.get(u) is target for u in holder.dep_urns(prop)):
            return True
        vals = holder.props.get(prop)
        names = [v for v in (vals if isinstance(vals, list) else [vals]) if _str(v)]
        return bool(names) and _str(target.props.get("name")) in names

    def _collect_policies(self, p: Principal) -> None:
        kind = p.kind
        inline_type = AwsType.IAM_USER_POLICY if kind == "user" else AwsType.IAM_ROLE_POLICY
        attach_type = (
            AwsType.IAM_USER_POLICY_ATTACHMENT
            if kind == "user"
            else AwsType.IAM_ROLE_POLICY_ATTACHMENT
        )
        field_name = kind  # UserPolicy.user / RolePolicy.role
        for n in self.of_type(inline_type):
            if self._refers_to(n, field_name, p.node):
                p.policies.append(
                    PolicyDoc(f"{n.type.split(':')[-1]} {n.name}", self._doc(n.props.get("policy")))
                )
        for n in self.of_type(attach_type):
            if self._refers_to(n, field_name, p.node):
                p.policies.append(self._attached(n, n.props.get("policyArn")))
        for n in self.of_type(AwsType.IAM_POLICY_ATTACHMENT):
            if self._refers_to(n, kind + "s", p.node):
                p.policies.append(self._attached(n, n.props.get("policyArn")))
        if kind == "user":
            for group in self._groups_of(p.node):
                self._collect_group_policies(p, group)
        if kind == "role":
            for prop in ("inlinePolicies", "managedPolicyArns"):
                if is_unknown(p.node.props.get(prop)):
                    p.policies.append(
                        PolicyDoc(f"{prop} of role {p.node.name}", UNKNOWN, f"{prop} unknown")
                    )
            for i, item in enumerate(_list(p.node.props.get("inlinePolicies"))):
                if isinstance(item, dict):
                    p.policies.append(
                        PolicyDoc(
                            f"inline policy #{i} of role {p.node.name}",
                            self._doc(item.get("policy")),
                        )
                    )
            for arn in _list(p.node.props.get("managedPolicyArns")):
                p.policies.append(self._attached(p.node, arn))

    def _groups_of(self, user: Node) -> list[Node]:
        """Groups of the stack the user belongs to (GroupMembership, UserGroupMembership)."""
        out: list[Node] = []
        groups = self.of_type(AwsType.IAM_GROUP)
        for n in self.of_type(AwsType.IAM_GROUP_MEMBERSHIP):
            if self._refers_to(n, "users", user):
                out.extend(g for g in groups if self._refers_to(n, "group", g))
        for n in self.of_type(AwsType.IAM_USER_GROUP_MEMBERSHIP):
            if self._refers_to(n, "user", user):
                out.extend(g for g in groups if self._refers_to(n, "groups", g))
        return list({id(g): g for g in out}.values())

    def _collect_group_policies(self, p: Principal, group: Node) -> None:
        via = f" (via group {group.name})"
        for n in self.of_type(AwsType.IAM_GROUP_POLICY):
            if self._refers_to(n, "group", group):
                doc = self._doc(n.props.get("policy"))
                p.policies.append(PolicyDoc(f"GroupPolicy {n.name}{via}", doc))
        for n in self.of_type(AwsType.IAM_GROUP_POLICY_ATTACHMENT):
            if self._refers_to(n, "group", group):
                att = self._attached(n, n.props.get("policyArn"))
                att.origin += via
                p.policies.append(att)
        for n in self.of_type(AwsType.IAM_POLICY_ATTACHMENT):
            if self._refers_to(n, "groups", group):
                att = self._attached(n, n.props.get("policyArn"))
                att.origin += via
                p.policies.append(att)

    def _attached(self, holder: Node, arn: Any, prop: str = "policyArn") -> PolicyDoc:
        for urn in holder.dep_urns(prop):
            n = self.by_urn.get(urn)
            if n is not None and n.type == AwsType.IAM_POLICY:
                return PolicyDoc(
                    f"Policy {n.name} (attached by {holder.name})", self._doc(n.props.get("policy"))
                )
        if is_unknown(arn):
            return PolicyDoc(f"attachment {holder.name}", UNKNOWN, "policy ARN unknown")
        if not isinstance(arn, str):
            return PolicyDoc(f"attachment {holder.name}", None, "no policy ARN")
        if managed_policy_name(arn):
            doc = managed_policy_document(arn)
            if doc is None:
                return PolicyDoc(
                    f"AWS managed {arn}", UNKNOWN, f"AWS managed policy {arn} not in the catalog"
                )
            return PolicyDoc(f"AWS managed {managed_policy_name(arn)}", doc)
        for n in self.of_type(AwsType.IAM_POLICY):
            if _str(n.props.get("arn")) == arn:
                return PolicyDoc(f"Policy {n.name}", self._doc(n.props.get("policy")))
        return PolicyDoc(
            f"policy {arn}", UNKNOWN, f"customer managed policy {arn} is outside the stack"
        )


def account_in(arns: Sequence[str]) -> str:
    for a in arns:
        acct = account_of(a)
        if acct:
            return acct
    return ""
