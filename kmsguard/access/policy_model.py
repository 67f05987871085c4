"""The compiled policy document: its statements, canonical text and per-action memo."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from kmsguard.access.decision import StatementRef
from kmsguard.access.errors import PolicyDocumentError
from kmsguard.access.statement import Statement

# "trust": a role trust policy, a resource-based policy whose resource is the role itself.
PolicyKind = Literal["identity", "resource", "trust"]
KINDS: tuple[str, ...] = ("identity", "resource", "trust")
VERSIONS = ("2012-10-17", "2008-10-17")


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    """A validated, compiled policy document; immutable and safe to cache and share."""

    kind: PolicyKind
    version: str | None
    id: str | None
    statements: tuple[Statement, ...]
    # The document as parsed (a private copy), rendered as canonical JSON text on first use.
    _data: Any = field(repr=False, compare=False)
    # Memo of action -> statements whose Action/NotAction matches; derived, not state.
    _by_action: dict[str, tuple[Statement, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _source: list[str] = field(default_factory=list, repr=False, compare=False)
    # Memo of (label, statement index) -> StatementRef: the references die with the policy.
    _refs: dict[tuple[str, int], StatementRef] = field(
        default_factory=dict, repr=False, compare=False
    )
    # What a tolerant reading found wrong, in document order (the first is what a strict
    # reading raises); such a policy is for reporting, and evaluating it raises the first.
    problems: tuple[PolicyDocumentError, ...] = field(default=(), compare=False)

    def ref(self, label: str, st: Statement) -> StatementRef:
        """The reference to one of this policy's statements under the label it is known by."""
        key = (label, st.index)
        found = self._refs.get(key)
        if found is None:
            if len(self._refs) > 4096:
                self._refs.clear()
            found = self._refs[key] = StatementRef(label, st.sid, st.index, st.effect)
        return found

    @property
    def source(self) -> str:
        """The document as canonical JSON text (sorted keys, no spaces)."""
        memo = self._source
        if not memo:
            memo.append(canonical_json(self._data))
        return memo[0]

    def for_action(self, action_lower: str) -> tuple[Statement, ...]:
        """The statements whose Action/NotAction covers the (lower-cased) action."""
        hit = self._by_action.get(action_lower)
        if hit is None:
            if len(self._by_action) > 4096:
                self._by_action.clear()
            hit = tuple(
                [st for st in self.statements if st.actions.matches(action_lower) != st.not_action]
            )
            self._by_action[action_lower] = hit
        return hit

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Policy) and (self.kind, self.source) == (other.kind, other.source)

    def __hash__(self) -> int:
        return hash((self.kind, self.source))

    @property
    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.source)
        return doc


class _BlankPolicy:
    """Policy's layout without its frozen __setattr__: filled in with plain assignments, then
    handed out as a Policy (the frozen constructor costs three times as much)."""

    # Policy's fields in its order: a class may be swapped only for one of the same layout.
    __slots__ = (  # noqa: RUF023
        "kind",
        "version",
        "id",
        "statements",
        "_data",
        "_by_action",
        "_source",
        "_refs",
        "problems",
    )
    kind: PolicyKind
    version: str | None
    id: str | None
    statements: tuple[Statement, ...]
    _data: Any
    _by_action: dict[str, tuple[Statement, ...]]
    _source: list[str]
    _refs: dict[tuple[str, int], StatementRef]
    problems: tuple[PolicyDocumentError, ...]


def new_policy(
    kind: PolicyKind, version: str | None, pid: str | None, stmts: tuple[Statement, ...], data: Any
) -> Policy:
    blank = _BlankPolicy()
    blank.kind = kind
    blank.version = version
    blank.id = pid
    blank.statements = stmts
    blank._data = data
    blank._by_action = {}
    blank._source = []
    blank._refs = {}
    blank.problems = ()
    blank.__class__ = Policy  # type: ignore[assignment]
    return blank  # type: ignore[return-value]


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))
