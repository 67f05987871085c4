"""The stack's resources indexed once: by URN, type and name, and the references between them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from kmsguard.access.arn import parse_arn
from kmsguard.contract import AwsType
from policies.deployer import deploying_account
from policies.values import is_unknown, plain

T = TypeVar("T")


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


def text(value: Any) -> str | None:
    """A known, non-empty string (preview's unknown values are strings too: not those)."""
    return value if isinstance(value, str) and value and not is_unknown(value) else None


def names(value: Any) -> list[str]:
    """The names a reference property gives: one string or a list of them."""
    return [v for v in (value if isinstance(value, list) else [value]) if text(v)]


# (resource ids, account, the resources themselves, their view): see StackView.shared.
_SHARED: list[tuple[tuple[int, ...], str, list[Any], StackView]] = []


class StackView:
    """The stack indexed once; every lookup a rule makes is a dictionary access.

    Rules run per key and per principal, so a scan of the stack inside such a loop would make
    the pack quadratic in the stack's size. What the collectors (keys, principals) gather is
    kept on the view too (`collected`), so it is gathered once however many rules ask.
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
        self._referrers: dict[tuple[str, str], dict[str, list[Node]]] = {}
        self._by_name: dict[str, dict[str, list[Node]]] = {}
        self._region: str | None = None
        self._collected: dict[Callable[[StackView], Any], Any] = {}

    @classmethod
    def shared(cls, resources: Iterable[Any], account_id: str = "") -> StackView:
        """The view of these resource objects, built once for all the stack rules of a call.

        The pack's servicer (policies/servicer.py) hands each stack policy a new list of the
        same resource objects, so the five rules index the stack once; under the SDK's own
        servicer (another SDK version) each rule gets new objects and its own view: correct,
        only slower. Entries hold their resources, so an id in a key can
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

    def collected(self, collect: Callable[[StackView], T]) -> T:
        """What `collect` gathers from this view, gathered on the first call only.

        What it returns must not refer back to the view: a view the next stack replaces is
        then freed at once, not kept with its whole stack until the cycle collector's slowest
        pass, which would walk it.
        """
        if collect not in self._collected:
            self._collected[collect] = collect(self)
        return cast(T, self._collected[collect])

    def of_type(self, *types: str) -> list[Node]:
        return [n for t in types for n in self._by_type.get(t, [])]

    def in_stack_order(self, nodes: Iterable[Node]) -> list[Node]:
        unique = {id(n): n for n in nodes}
        return sorted(unique.values(), key=lambda n: self._pos[id(n)])

    def region(self) -> str:
        if self._region is None:
            self._region = self._find_region()
        return self._region

    def _find_region(self) -> str:
        for n in self.nodes:
            arn = parse_arn(n.props.get("arn"))
            if arn is not None and arn.service in ("kms", "dynamodb") and arn.region:
                return arn.region
            if n.type == AwsType.PROVIDER and text(n.props.get("region")):
                return str(n.props["region"])
        return "us-east-1"

    # --- references between resources ----------------------------------------------------

    def named(self, type_: str, name: str) -> list[Node]:
        """Resources of a type by their physical `name` property."""
        index = self._by_name.get(type_)
        if index is None:
            index = {}
            for n in self.of_type(type_):
                own = text(n.props.get("name"))
                if own:
                    index.setdefault(own, []).append(n)
            self._by_name[type_] = index
        return index.get(name, [])

    def referrers(self, holder_type: str, prop: str, target: Node) -> list[Node]:
        """Resources of `holder_type` whose `prop` names the target (by dependency or name).

        In stack order, as a scan of the stack would find them.
        """
        index = self._referrers.get((holder_type, prop))
        if index is None:
            index = {}
            for n in self.of_type(holder_type):
                for urn in n.dep_urns(prop):
                    index.setdefault("urn:" + urn, []).append(n)
                for name in names(n.props.get(prop)):
                    index.setdefault("name:" + name, []).append(n)
            self._referrers[(holder_type, prop)] = index
        found = list(index.get("urn:" + target.urn, []))
        if self.by_urn.get(target.urn) is not target:
            found = []  # a duplicate URN: the dependency resolves to the other resource
        for own in names(target.props.get("name")):
            found += index.get("name:" + own, [])
        return self.in_stack_order(found)

    def targets(self, holder: Node, prop: str, type_: str) -> list[Node]:
        """Resources of `type_` that the holder's `prop` names (by dependency or name)."""
        found = [
            n for n in (self.by_urn.get(u) for u in holder.dep_urns(prop)) if n and n.type == type_
        ]
        for name in names(holder.props.get(prop)):
            found += self.named(type_, name)
        return self.in_stack_order(found)
