"""The stack's KMS keys: every identifier they go by, and what names them (tables, policies)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kmsguard.access.arn import key_account, key_arn
from kmsguard.contract import AwsType
from policies.stack.graph import Node, StackView, text
from policies.values import DocumentError, Unknown, get, is_unknown, load_document


@dataclass
class KeyRef:
    """What a table's kmsKeyArn points at."""

    node: Node | None  # the key in this stack, when found
    value: str | Unknown | None  # the literal value given
    via: str  # how the link was established


def _doc(value: Any) -> dict[str, Any] | Unknown | None:
    try:
        return load_document(value)
    except DocumentError:
        return None


class _Index:
    """The keys by identifier, kept on the view: it holds no reference back to the view, so a
    view the next stack replaces is freed at once (a cycle would keep its whole stack alive
    until the collector's slowest pass, which then walks it)."""

    def __init__(self, view: StackView) -> None:
        # Keys by their own identifiers; aliases are added on first use (an alias names its
        # target, found through these).
        self.base: dict[str, Node] = {}
        for key in view.of_type(AwsType.KMS_KEY):
            for k in ("arn", "keyId", "id"):
                ident = text(key.props.get(k))
                if ident:
                    self.base.setdefault(ident, key)
        self.full: dict[str, Node] | None = None
        self.idents: dict[int, set[str]] = {}
        self.links: dict[tuple[str, str], dict[int, list[Node]]] = {}


class StackKeys:
    """The keys of one view, indexed once by identifier (ARN, key id, alias name or ARN)."""

    def __init__(self, view: StackView, index: _Index) -> None:
        self.view = view
        self._idx = index

    def _key_index(self) -> dict[str, Node]:
        """Identifier -> key, aliases included, built once per view."""
        index = self._idx.full
        if index is None:
            index = dict(self._idx.base)
            for alias in self.view.of_type(AwsType.KMS_ALIAS):
                target = self.alias_target(alias)
                if target is not None:
                    for k in ("name", "arn"):
                        ident = text(alias.props.get(k))
                        if ident:
                            index.setdefault(ident, target)
            for ident, node in index.items():
                self._idx.idents.setdefault(id(node), set()).add(ident)
            self._idx.full = index
        return index

    def key_identifiers(self, key: Node) -> set[str]:
        self._key_index()
        return set(self._idx.idents.get(id(key), ()))

    def alias_target(self, alias: Node) -> Node | None:
        for urn in alias.dep_urns("targetKeyId"):
            n = self.view.by_urn.get(urn)
            if n is not None and n.type == AwsType.KMS_KEY:
                return n
        target = text(alias.props.get("targetKeyId"))
        return self._idx.base.get(target) if target else None

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
            n = self.view.by_urn.get(urn)
            if n is not None and n.type == AwsType.KMS_KEY:
                return KeyRef(n, value, "property dependency")
            if n is not None and n.type == AwsType.KMS_ALIAS:
                return KeyRef(self.alias_target(n), value, "property dependency on an alias")
        return KeyRef(None, value if is_unknown(value) else None, "none")

    def linked_to_key(self, type_: str, key: Node, prop: str = "keyId") -> list[Node]:
        """Resources of a type whose `prop` names the key: by dependency or any identifier."""
        index = self._idx.links.get((type_, prop))
        if index is None:
            identifiers = self._key_index()
            index = {}
            for n in self.view.of_type(type_):
                targets = {
                    id(t): t
                    for t in (self.view.by_urn.get(u) for u in n.dep_urns(prop))
                    if t is not None
                }
                named = identifiers.get(text(n.props.get(prop)) or "")
                if named is not None:
                    targets[id(named)] = named
                for target in targets:
                    index.setdefault(target, []).append(n)
            self._idx.links[(type_, prop)] = index
        return index.get(id(key), [])

    def key_policies(self, key: Node) -> list[tuple[dict[str, Any] | Unknown | None, str]]:
        """Every policy declared for the key, the one AWS ends up with first.

        A KeyPolicy resource is applied after the key, so it wins; when the key also has an
        inline policy, both are returned: each `up` may apply either, so both must be safe.
        """
        out: list[tuple[dict[str, Any] | Unknown | None, str]] = [
            (_doc(kp.props.get("policy")), f"KeyPolicy {kp.name}")
            for kp in self.linked_to_key(AwsType.KMS_KEY_POLICY, key)
        ]
        doc = _doc(key.props.get("policy"))
        if doc is not None:
            out.append((doc, "inline policy"))
        return out or [(None, "AWS default key policy")]

    def key_account(self, key: Node) -> str:
        """The key's account: its ARN's, else the deploying account, else "" (unknown)."""
        return key_account((key.props.get("arn"),), self.view.account_id)

    def key_arn(self, key: Node) -> str:
        arn = text(key.props.get("arn"))
        if arn:
            return arn
        # Preview: the ARN is unknown; a stable stand-in in the key's account is evaluated with
        # (rules that need the account itself ask key_account, which says when it is unknown).
        key_id = re.sub(r"[^A-Za-z0-9_-]", "-", key.name) or "key"
        return key_arn(self.key_account(key) or "000000000000", key_id, self.view.region())


def stack_keys(view: StackView) -> StackKeys:
    """The view's keys, indexed on the first call for every rule of the stack."""
    return StackKeys(view, view.collected(_Index))
