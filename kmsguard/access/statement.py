"""The compiled statement: immutable, its evaluation parts built from the document on first use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import FrozenInstanceError
from typing import Any

from kmsguard.access.clauses import ConditionClause, clauses_of, conjunction
from kmsguard.access.conditions import Context, Predicate, compile_checked
from kmsguard.access.matching import (
    GlobSet,
    PrincipalInfo,
    _compile_globs,
    has_variables,
    substitute,
    substituted_glob,
)
from kmsguard.access.policy_elements import element_strings
from kmsguard.access.principal_element import (
    DIRECT_MATCH,
    NO_MATCH,
    PrincipalSpec,
    compile_principal,
    written_principals,
)

# Built from the validated document on first use: parsing only checks, and an evaluation
# builds the parts of the statements it reaches.
_LAZY = (
    "resources",
    "dynamic_resources",
    "principal",
    "conditions",
    "condition",
)


class _Fields:
    """The slots of a compiled statement and the methods reading them (see `Statement`)."""

    __slots__ = (
        "index",
        "sid",
        "effect",
        "is_deny",
        "not_action",
        "not_resource",
        "not_principal",
        # The Resource/NotResource patterns as written.
        "resource_patterns",
        "actions",
        "_raw",
        "_path",
        "_variables",
        "_plain",
        # Memos of `action_paths`, `clauses`, `principal_names` and `conditioned`, read by tools
        # rather than by an evaluation.
        "_action_paths",
        "_clauses",
        "_principal_names",
        "_conditioned",
        *_LAZY,
    )
    index: int
    sid: str | None
    effect: str
    is_deny: bool
    not_action: bool
    not_resource: bool
    not_principal: bool
    resource_patterns: tuple[str, ...]
    actions: GlobSet
    resources: GlobSet
    dynamic_resources: tuple[str, ...]
    principal: PrincipalSpec | None
    conditions: tuple[Predicate, ...]
    # All conditions AND-ed into one predicate (None: unconditional); derived from `conditions`.
    condition: Predicate | None
    _raw: Mapping[str, Any]
    _path: str
    _variables: bool
    _plain: bool
    _action_paths: tuple[tuple[str, str], ...]
    _clauses: tuple[ConditionClause, ...]
    _principal_names: tuple[str, ...]
    _conditioned: bool

    @property
    def action_paths(self) -> tuple[tuple[str, str], ...]:
        """The Action/NotAction entries as (path, pattern)."""
        try:
            return self._action_paths
        except AttributeError:
            key = "NotAction" if self.not_action else "Action"
            found = tuple(element_strings(self._raw[key], f"{self._path}.{key}", key))
            object.__setattr__(self, "_action_paths", found)
            return found

    @property
    def clauses(self) -> tuple[ConditionClause, ...]:
        """The Condition element as clauses, as written."""
        try:
            return self._clauses
        except AttributeError:
            cond = self._raw.get("Condition")
            found = clauses_of(cond) if cond else ()
            object.__setattr__(self, "_clauses", found)
            return found

    @property
    def principal_names(self) -> tuple[str, ...]:
        """The Principal/NotPrincipal entries as written: AWS entries as they are, `*` for
        everyone, any other type as `Type:value` (e.g. `Service:dynamodb.amazonaws.com`)."""
        try:
            return self._principal_names
        except AttributeError:
            key = "NotPrincipal" if self.not_principal else "Principal"
            found = written_principals(self._raw.get(key))
            object.__setattr__(self, "_principal_names", found)
            return found

    @property
    def conditioned(self) -> bool:
        """The statement has a Condition element with at least one operator (in a malformed
        statement, one IAM does not know counts too)."""
        try:
            return self._conditioned
        except AttributeError:
            cond = self._raw.get("Condition")
            found = isinstance(cond, Mapping) and bool(cond)
            object.__setattr__(self, "_conditioned", found)
            return found

    def action_matches(self, action_lower: str) -> bool:
        return self.actions.matches(action_lower) != self.not_action

    def covers(self, action: str) -> bool:
        """Action/NotAction applies to `action` (any case)."""
        return self.action_matches(action.lower())

    def resource_matches(self, resource: str, ctx: Context) -> bool:
        """Resource/NotResource covers the resource; never when a variable cannot be resolved."""
        hit = False
        for pattern in self.dynamic_resources:
            sub = substitute(pattern, ctx)
            if sub is None:
                # AWS: an unresolvable variable may invalidate the whole statement; it must not
                # make a NotResource statement apply either.
                return False
            hit = hit or substituted_glob(sub).matches(resource)
        hit = hit or self.resources.matches(resource)
        return hit != self.not_resource

    def principal_match(self, principal: str, info: PrincipalInfo) -> int:
        spec = self.principal
        if spec is None:
            return DIRECT_MATCH
        if self.not_principal:
            return NO_MATCH if spec.excludes(principal, info) else DIRECT_MATCH
        return spec.match(principal, info)

    def conditions_hold(self, ctx: Context) -> bool:
        return all(pred(ctx) for pred in self.conditions)


class Statement(_Fields):
    """One compiled statement; `index` is its position in the policy's Statement list.

    Immutable. Parsing creates a `_Pending` statement, which builds the parts in `_LAZY` from
    the validated document (a private copy nobody changes) when one is first read, and then
    becomes a plain `Statement`.
    """

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __repr__(self) -> str:
        return f"Statement(index={self.index!r}, sid={self.sid!r}, effect={self.effect!r})"

    def __reduce__(self) -> tuple[Any, tuple[tuple[Any, ...]]]:
        # Pickle and copy: every part built and the memos tools read filled, then restored
        # slot by slot.
        fill(self)
        return _restore_statement, (tuple([getattr(self, n) for n in _Fields.__slots__]),)


def _restore_statement(values: tuple[Any, ...]) -> Statement:
    blank = _Blank()
    for name, value in zip(_Fields.__slots__, values, strict=True):
        object.__setattr__(blank, name, value)
    blank.__class__ = Statement  # type: ignore[assignment]
    return blank  # type: ignore[return-value]


class _Blank(_Fields):
    """A statement being filled in: plain assignments, several times quicker than going round
    `Statement.__setattr__`; `new_statement` hands it out as a `_Pending` only."""

    __slots__ = ()


def new_statement(
    index: int,
    sid: str | None,
    effect: str,
    not_action: bool,
    not_resource: bool,
    not_principal: bool,
    actions: tuple[str, ...],
    resource_patterns: tuple[str, ...],
    raw: Mapping[str, Any],
    path: str,
    variables: bool,
    plain: bool,
) -> Statement:
    st = _Blank()
    st.index = index
    st.sid = sid
    st.effect = effect
    st.is_deny = effect == "Deny"
    st.not_action = not_action
    st.not_resource = not_resource
    st.not_principal = not_principal
    st.resource_patterns = resource_patterns
    st.actions = _compile_globs(actions, True)
    st._raw = raw
    st._path = path
    st._variables = variables
    st._plain = plain
    # Same slots, so the object may change class; from here on it is immutable.
    st.__class__ = _Pending  # type: ignore[assignment]
    return st  # type: ignore[return-value]


class _Pending(Statement):
    """A statement whose `_LAZY` parts are not built yet.

    A class of its own, so that a built `Statement` reads its attributes the plain way (a
    `__getattr__` on the class would slow every attribute read).
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        # Reached only for an unset slot: build every lazy part, then become a `Statement`.
        if name not in _LAZY:
            raise AttributeError(name)
        self._build()
        return object.__getattribute__(self, name)

    def _build(self) -> None:
        put = object.__setattr__
        raw = self._raw
        patterns = self.resource_patterns
        if self._variables and "${" in "".join(patterns):
            dynamic = tuple(r for r in patterns if has_variables(r))
            static = tuple(r for r in patterns if not has_variables(r))
        else:
            dynamic, static = (), patterns
        put(self, "dynamic_resources", dynamic)
        put(self, "resources", _compile_globs(static, False))
        key = "NotPrincipal" if self.not_principal else "Principal"
        put(self, "principal", compile_principal(raw[key], "") if key in raw else None)
        cond = raw.get("Condition")
        conds = compile_checked(cond) if cond else ()
        put(self, "conditions", conds)
        put(self, "condition", conjunction(conds))
        put(self, "__class__", Statement)


def fill(st: Statement) -> None:
    """Build every part of the statement and the memos tools read, now (while the document
    it was parsed from is as it was read)."""
    if isinstance(st, _Pending):
        st._build()
    st.action_paths, st.clauses, st.principal_names, st.conditioned  # noqa: B018
