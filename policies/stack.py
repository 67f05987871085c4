"""A view of the stack for cross-resource rules: tables to keys, keys to policies, principals."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kmsguard.access.arn import account_of, key_account, key_arn, parse_arn
from kmsguard.contract import AwsType
from policies.deployer import deploying_account
from policies.document import allows, statements
from policies.managed import managed_policy_document, managed_policy_name
from policies.values import UNKNOWN, DocumentError, Unknown, get, is_unknown, load_document, plain

AWS_DEFAULT_DYNAMODB_ALIAS = "alias/aws/dynamodb"
# Group membership types (not in kmsguard.contract yet: the program registers none).


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


def _names(value: Any) -> list[str]:
    """The names a reference property gives: one string or a list of them."""
    return [v for v in (value if isinstance(value, list) else [value]) if _str(v)]


# (resource ids, account, the resources themselves, their view): see StackView.shared.
_SHARED: list[tuple[tuple[int, ...], str, list[Any], StackView]] = []


class StackView:
    """The stack indexed once; every lookup a rule makes is a dictionary access.

    Rules run per key and per principal, so a scan of the stack inside such a loop would make
    the pack quadratic in the stack's size.
    """

    def __init__(self, resources: Iterable[Any], account_id: str = "") -> None:
        items = list(resources)
        self.nodes = [_node(r) for r in items]
        self.by_urn = {n.urn: n for n in self.nodes}
        self._pos = {id(n): i for i, n in enumerate(self.nodes)}
        # The deploying account as the provider declares it; never guessed from ARNs or
        # principals (a stack may hold another account's key or role).
        self.account_id = account_id or next((a for r in items if (a := deploying_account(r))), "")
        self._by_type: dict[str, list[Node]] = {}
        for n in self.nodes:
            self._by_type.setdefault(n.type, []).append(n)
        self._index: dict[str, Node] | None = None
        self._base_index: dict[str, Node] | None = None
        self._idents: dict[int, set[str]] = {}
        self._key_links: dict[tuple[str, str], dict[int, list[Node]]] = {}
        self._referrers: dict[tuple[str, str], dict[str, list[Node]]] = {}
        self._by_name: dict[str, dict[str, list[Node]]] = {}
        self._policy_by_arn: dict[str, Node] | None = None
        self._region: str | None = None
        self._principals: list[Principal] | None = None

    @classmethod
    def shared(cls, resources: Iterable[Any], account_id: str = "") -> StackView:
        """The view of these resource objects, built once for all the stack rules of a call.

        The SDK hands each stack policy a new list of the same resource objects, so five rules
        would index the stack five times. Entries hold their resources, so an id in a key can
        never be reused by another object while the entry lives; views of other stacks are
        dropped.
        """
        items = list(resources)
        key = tuple(id(r) for r in items)
        for held_key, held_account, _held, view in _SHARED:
            if held_key == key and held_account == account_id:
                return view
        view = cls(items, account_id)
        _SHARED[:] = [*[e for e in _SHARED if e[0] == key][-2:], (key, account_id, items, view)]
        return view

    def of_type(self, *types: str) -> list[Node]:
        return [n for t in types for n in self._by_type.get(t, [])]

    def _in_stack_order(self, nodes: Iterable[Node]) -> list[Node]:
        unique = {id(n): n for n in nodes}
        return sorted(unique.values(), key=lambda n: self._pos[id(n)])

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
            for ident, node in index.items():
                self._idents.setdefault(id(node), set()).add(ident)
            self._index = index
        return index

    def key_identifiers(self, key: Node) -> set[str]:
        self._key_index()
        return set(self._idents.get(id(key), ()))

    def alias_target(self, alias: Node) -> Node | None:
        for urn in alias.dep_urns("targetKeyId"):
            n = self.by_urn.get(urn)
            if n is not None and n.type == AwsType.KMS_KEY:
                return n
        target = _str(alias.props.get("targetKeyId"))
        return self._key_by_identifier(target) if target else None

    def _key_by_identifier(self, ident: str) -> Node | None:
        if self._base_index is None:
            self._base_index = {}
            for key in self.of_type(AwsType.KMS_KEY):
                for k in ("arn", "keyId", "id"):
                    found = _str(key.props.get(k))
                    if found:
                        self._base_index.setdefault(found, key)
        return self._base_index.get(ident)

    def table_key(self, table: Node) -> KeyRef:
        return self.key_ref(table, ("serverSideEncryption", "kmsKeyArn"))

    def key_ref(self, holder: Node, path: tuple[str, ...]) -> KeyRef:
        """The key a property such as a table's serverSideEncryption.kmsKeyArn names."""
        value = get(holder.props, *path)
        if isinstance(value, str) and value:
            return KeyRef(self._key_index().get(value), value, "value")
        if not is_unknown(value):
            # Absent or empty: DynamoDB uses the AWS managed key, whatever else the
            # serverSideEncryption block depends on.
            return KeyRef(None, None, "none")
        # Unknown: the value is still to come from what the property depends on.
        for urn in holder.dep_urns(path[0]):
            n = self.by_urn.get(urn)
            if n is not None and n.type == AwsType.KMS_KEY:
                return KeyRef(n, value, "property dependency")
            if n is not None and n.type == AwsType.KMS_ALIAS:
                return KeyRef(self.alias_target(n), value, "property dependency on an alias")
        return KeyRef(None, value if is_unknown(value) else None, "none")

    def key_policy(self, key: Node) -> tuple[dict[str, Any] | Unknown | None, str]:
        """The key's policy document and its origin (inline, KeyPolicy resource or AWS default)."""
        return self.key_policies(key)[0]

    def linked_to_key(self, type_: str, key: Node, prop: str = "keyId") -> list[Node]:
        """Resources of a type whose `prop` names the key: by dependency or any identifier."""
        index = self._key_links.get((type_, prop))
        if index is None:
            identifiers = self._key_index()
            index = {}
            for n in self.of_type(type_):
                targets = {
                    id(t): t
                    for t in (self.by_urn.get(u) for u in n.dep_urns(prop))
                    if t is not None
                }
                named = identifiers.get(_str(n.props.get(prop)) or "")
                if named is not None:
                    targets[id(named)] = named
                for target in targets:
                    index.setdefault(target, []).append(n)
            self._key_links[(type_, prop)] = index
        return index.get(id(key), [])

    def key_policies(self, key: Node) -> list[tuple[dict[str, Any] | Unknown | None, str]]:
        """Every policy declared for the key, the one AWS ends up with first.

        A KeyPolicy resource is applied after the key, so it wins; when the key also has an
        inline policy, both are returned: each `up` may apply either, so both must be safe.
        """
        out: list[tuple[dict[str, Any] | Unknown | None, str]] = [
            (self._doc(kp.props.get("policy")), f"KeyPolicy {kp.name}")
            for kp in self.linked_to_key(AwsType.KMS_KEY_POLICY, key)
        ]
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

    def key_account(self, key: Node) -> str:
        """The key's account: its ARN's, else the deploying account, else "" (unknown)."""
        return key_account((key.props.get("arn"),), self.account_id)

    def key_arn(self, key: Node) -> str:
        arn = _str(key.props.get("arn"))
        if arn:
            return arn
        # Preview: the ARN is unknown; a stable stand-in in the key's account is evaluated with
        # (rules that need the account itself ask key_account, which says when it is unknown).
        key_id = re.sub(r"[^A-Za-z0-9_-]", "-", key.name) or "key"
        return key_arn(self.key_account(key) or "000000000000", key_id, self.region())

    def region(self) -> str:
        if self._region is None:
            self._region = self._find_region()
        return self._region

    def _find_region(self) -> str:
        for n in self.nodes:
            arn = parse_arn(n.props.get("arn"))
            if arn is not None and arn.service in ("kms", "dynamodb") and arn.region:
                return arn.region
            if n.type == AwsType.PROVIDER and _str(n.props.get("region")):
                return str(n.props["region"])
        return "us-east-1"

    # --- references between resources ----------------------------------------------------

    def _named(self, type_: str, name: str) -> list[Node]:
        """Resources of a type by their physical `name` property."""
        index = self._by_name.get(type_)
        if index is None:
            index = {}
            for n in self.of_type(type_):
                own = _str(n.props.get("name"))
                if own:
                    index.setdefault(own, []).append(n)
            self._by_name[type_] = index
        return index.get(name, [])

    def _referrers_of(self, holder_type: str, prop: str, target: Node) -> list[Node]:
        """Resources of `holder_type` whose `prop` names the target (by dependency or name).

        In stack order, as a scan of the stack would find them.
        """
        index = self._referrers.get((holder_type, prop))
        if index is None:
            index = {}
            for n in self.of_type(holder_type):
                for urn in n.dep_urns(prop):
                    index.setdefault("urn:" + urn, []).append(n)
                for name in _names(n.props.get(prop)):
                    index.setdefault("name:" + name, []).append(n)
            self._referrers[(holder_type, prop)] = index
        found = list(index.get("urn:" + target.urn, []))
        if self.by_urn.get(target.urn) is not target:
            found = []  # a duplicate URN: the dependency resolves to the other resource
        for own in _names(target.props.get("name")):
            found += index.get("name:" + own, [])
        return self._in_stack_order(found)

    def _targets_of(self, holder: Node, prop: str, type_: str) -> list[Node]:
        """Resources of `type_` that the holder's `prop` names (by dependency or name)."""
        found = [
            n for n in (self.by_urn.get(u) for u in holder.dep_urns(prop)) if n and n.type == type_
        ]
        for name in _names(holder.props.get(prop)):
            found += self._named(type_, name)
        return self._in_stack_order(found)

    def _policy_named_by_arn(self, arn: str) -> Node | None:
        if self._policy_by_arn is None:
            self._policy_by_arn = {}
            for n in self.of_type(AwsType.IAM_POLICY):
                own = _str(n.props.get("arn"))
                if own:
                    self._policy_by_arn.setdefault(own, n)
        return self._policy_by_arn.get(arn)

    # --- principals -----------------------------------------------------------------------

    def principals(self) -> list[Principal]:
        if self._principals is None:
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
            self._principals = out
        return self._principals

    def trust_policy(self, role: Node) -> dict[str, Any] | Unknown | None:
        """A role's trust policy (assumeRolePolicy), UNKNOWN during preview, None if unreadable."""
        return self._doc(role.props.get("assumeRolePolicy"))

    def _derive_arn(self, node: Node, kind: str) -> str | None:
        name = _str(node.props.get("name"))
        if not name or not self.account_id:
            return None
        path = _str(node.props.get("path")) or "/"
        return f"arn:aws:iam::{self.account_id}:{kind}{path}{name}"

    def _collect_policies(self, p: Principal) -> None:
        kind = p.kind
        inline_type = AwsType.IAM_USER_POLICY if kind == "user" else AwsType.IAM_ROLE_POLICY
        attach_type = (
            AwsType.IAM_USER_POLICY_ATTACHMENT
            if kind == "user"
            else AwsType.IAM_ROLE_POLICY_ATTACHMENT
        )
        field_name = kind  # UserPolicy.user / RolePolicy.role
        for n in self._referrers_of(inline_type, field_name, p.node):
            p.policies.append(
                PolicyDoc(f"{n.type.split(':')[-1]} {n.name}", self._doc(n.props.get("policy")))
            )
        for n in self._referrers_of(attach_type, field_name, p.node):
            p.policies.append(self._attached(n, n.props.get("policyArn")))
        for n in self._referrers_of(AwsType.IAM_POLICY_ATTACHMENT, kind + "s", p.node):
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
        for n in self._referrers_of(AwsType.IAM_GROUP_MEMBERSHIP, "users", user):
            out.extend(self._targets_of(n, "group", AwsType.IAM_GROUP))
        for n in self._referrers_of(AwsType.IAM_USER_GROUP_MEMBERSHIP, "user", user):
            out.extend(self._targets_of(n, "groups", AwsType.IAM_GROUP))
        return list({id(g): g for g in out}.values())

    def _collect_group_policies(self, p: Principal, group: Node) -> None:
        via = f" (via group {group.name})"
        for n in self._referrers_of(AwsType.IAM_GROUP_POLICY, "group", group):
            doc = self._doc(n.props.get("policy"))
            p.policies.append(PolicyDoc(f"GroupPolicy {n.name}{via}", doc))
        for n in self._referrers_of(AwsType.IAM_GROUP_POLICY_ATTACHMENT, "group", group):
            att = self._attached(n, n.props.get("policyArn"))
            att.origin += via
            p.policies.append(att)
        for n in self._referrers_of(AwsType.IAM_POLICY_ATTACHMENT, "groups", group):
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
        n = self._policy_named_by_arn(arn)
        if n is not None:
            return PolicyDoc(f"Policy {n.name}", self._doc(n.props.get("policy")))
        return PolicyDoc(
            f"policy {arn}", UNKNOWN, f"customer managed policy {arn} is outside the stack"
        )


class PrincipalReach:
    """Which principals an identity policy could let perform one action, indexed by resource.

    Built once per stack: a principal whose policies cannot allow the action is never offered
    to a key; one whose Allow statements name exact resources is offered only to the keys
    those resources identify.
    """

    def __init__(self, principals: Sequence[Principal], action: str) -> None:
        self.principals = list(principals)
        self._pos = {id(p): i for i, p in enumerate(principals)}
        self.everywhere: list[Principal] = []  # reach unknown, or any resource
        self._by_resource: dict[str, list[Principal]] = {}
        self._by_arn: dict[str, list[Principal]] = {}
        self._by_account: dict[str, list[Principal]] = {}
        # The principals' ARNs, lower-cased, read by every key's check: made once per stack.
        self.arns: frozenset[str] = frozenset(p.arn.lower() for p in principals if p.arn)
        for p in principals:
            if p.arn is not None:
                self._by_arn.setdefault(p.arn.lower(), []).append(p)
                account = account_of(p.arn)
                if account:
                    self._by_account.setdefault(account, []).append(p)
            reach = _reach(p, action)
            if reach is None:
                continue
            if reach is _ANYWHERE:
                self.everywhere.append(p)
                continue
            for resource in reach:
                self._by_resource.setdefault(resource.lower(), []).append(p)

    def for_resource(self, identifiers: Iterable[str], named: Iterable[str]) -> list[Principal]:
        """Principals that may reach a resource known by these identifiers, plus those named.

        Resources are compared case-insensitively: a superset, never a miss.
        """
        found = {id(p): p for p in self.everywhere}
        for ident in identifiers:
            found.update((id(p), p) for p in self._by_resource.get(ident.lower(), ()))
        for arn in named:
            found.update((id(p), p) for p in self.named(arn))
        return sorted(found.values(), key=lambda p: self._pos[id(p)])

    def in_accounts(self, accounts: Iterable[str]) -> list[Principal]:
        """The stack's principals (ARN known) that belong to one of these accounts."""
        return [p for a in sorted(set(accounts)) for p in self._by_account.get(a, ())]

    def named(self, arn: str) -> list[Principal]:
        """The stack's principals with this ARN (IAM names are case-insensitive)."""
        return self._by_arn.get(arn.lower(), [])


_ANYWHERE: frozenset[str] = frozenset({"*"})


def _reach(p: Principal, action: str) -> frozenset[str] | None:
    """Resources the principal's Allow statements for `action` name exactly.

    None when no statement can allow the action; _ANYWHERE when one reaches unknown or
    patterned resources (wildcards, policy variables, NotResource), or a policy is unknown or
    unreadable, or the ARN is unknown.
    """
    if p.arn is None:
        return _ANYWHERE
    out: set[str] = set()
    for d in p.policies:
        if not isinstance(d.document, dict):
            if isinstance(d.document, Unknown):
                return _ANYWHERE
            continue
        for st in statements(d.document):
            if not allows(st) or not st.covers(action):
                continue
            if st.not_resource or not st.resource_patterns:
                return _ANYWHERE
            for r in st.resource_patterns:
                if any(c in r for c in "*?$"):
                    return _ANYWHERE
                out.add(r)
    return frozenset(out) if out else None


def account_in(arns: Sequence[str]) -> str:
    for a in arns:
        acct = account_of(a)
        if acct:
            return acct
    return ""
