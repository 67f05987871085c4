"""Strict parsing of IAM policy documents into immutable, pre-compiled `Policy` objects."""

from __future__ import annotations

import json
import marshal
import re
from collections.abc import Mapping
from dataclasses import FrozenInstanceError, dataclass, field
from typing import Any, Literal

from kmsguard.access.arn import arn_fields, is_account_id
from kmsguard.access.conditions import (
    OPERATORS,
    Context,
    Operator,
    Predicate,
    check_condition,
    compile_checked,
)
from kmsguard.access.decision import StatementRef
from kmsguard.access.errors import PolicyDocumentError
from kmsguard.access.matching import (
    GlobSet,
    PrincipalInfo,
    _compile_globs,
    clear_pattern_cache,
    has_variables,
    substitute,
    substituted_glob,
)
from kmsguard.access.names import fold_principal

# "trust": a role trust policy, a resource-based policy whose resource is the role itself.
PolicyKind = Literal["identity", "resource", "trust"]
KINDS: tuple[str, ...] = ("identity", "resource", "trust")
VERSIONS = ("2012-10-17", "2008-10-17")
_TOP_KEYS = ("Version", "Id", "Statement")
_STMT_KEYS = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)
_TOP_SET = frozenset(_TOP_KEYS)
_STMT_SET = frozenset(_STMT_KEYS)
_PRINCIPAL_KEYS = ("AWS", "Service", "Federated", "CanonicalUser")
_ACTION = re.compile(r"[A-Za-z0-9*?_-]+:[A-Za-z0-9*?_-]+")

# Principal match strengths.
NO_MATCH = 0
ACCOUNT_MATCH = 1  # the account (root or bare id): delegates to the account's IAM policies
DIRECT_MATCH = 2  # names this principal (or everyone)


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    """A compiled Principal/NotPrincipal element."""

    everyone: bool
    arns: frozenset[str]
    accounts: frozenset[str]
    role_keys: frozenset[tuple[str, str]]
    others: frozenset[str]
    # `arns` and `role_keys` with IAM user/role names folded: IAM compares them case-insensitively.
    folded: frozenset[str] = frozenset()
    folded_role_keys: frozenset[tuple[str, str]] = frozenset()

    def names(self, info: PrincipalInfo) -> bool:
        """The caller's own ARN is listed (user, session, role, root ARN; names case-folded)."""
        return info.arn in self.arns or fold_principal(info.arn) in self.folded

    def names_role(self, info: PrincipalInfo) -> bool:
        """A role session's role is listed by its role ARN."""
        key = info.role_key
        return (
            info.kind == "assumed-role"
            and key is not None
            and (key[0], key[1].lower()) in self.folded_role_keys
        )

    def match(self, principal: str, info: PrincipalInfo) -> int:
        if self.everyone or self.names(info) or principal in self.others:
            return DIRECT_MATCH
        if self.names_role(info):
            return DIRECT_MATCH
        if info.account is not None and info.account in self.accounts:
            return DIRECT_MATCH if info.kind == "root" else ACCOUNT_MATCH
        return NO_MATCH

    def excludes(self, principal: str, info: PrincipalInfo) -> bool:
        """NotPrincipal: AWS exempts a principal only if every identity in its chain is listed.

        For an IAM user that is the user ARN and its account; for a role session the session
        ARN, the role ARN and the account (AWS's documented NotPrincipal-with-Deny behaviour).
        """
        if self.everyone or principal in self.others:
            return True
        acct_ok = info.account is not None and info.account in self.accounts
        if info.kind == "root":
            return acct_ok or self.names(info)
        if info.kind == "assumed-role":
            return self.names(info) and self.names_role(info) and acct_ok
        return self.names(info) and acct_ok


@dataclass(frozen=True, slots=True)
class ConditionClause:
    """One condition test: its operator parsed, its key lower-cased and as written, its values.

    The evaluator runs the compiled predicates; the prover and the pack read these clauses.
    """

    operator: Operator
    key: str
    values: tuple[Any, ...]
    written_key: str


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
            found = tuple(_strings(self._raw[key], f"{self._path}.{key}", key))
            object.__setattr__(self, "_action_paths", found)
            return found

    @property
    def clauses(self) -> tuple[ConditionClause, ...]:
        """The Condition element as clauses, as written."""
        try:
            return self._clauses
        except AttributeError:
            cond = self._raw.get("Condition")
            found = _clauses(cond) if cond else ()
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
            found = _principal_names(self._raw.get(key))
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
        # Pickle and copy: every part built, then restored slot by slot.
        if isinstance(self, _Pending):
            self._build()
        # Fills the memos of the parts tools read.
        self.action_paths, self.clauses, self.principal_names, self.conditioned  # noqa: B018
        return _restore_statement, (tuple([getattr(self, n) for n in _Fields.__slots__]),)


def _restore_statement(values: tuple[Any, ...]) -> Statement:
    blank = _Blank()
    for name, value in zip(_Fields.__slots__, values, strict=True):
        object.__setattr__(blank, name, value)
    blank.__class__ = Statement  # type: ignore[assignment]
    return blank  # type: ignore[return-value]


class _Blank(_Fields):
    """A statement being filled in: plain assignments, several times quicker than going round
    `Statement.__setattr__`; `_new_statement` hands it out as a `_Pending` only."""

    __slots__ = ()


def _new_statement(
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
        put(self, "principal", _principal(raw[key], "") if key in raw else None)
        cond = raw.get("Condition")
        conds = compile_checked(cond) if cond else ()
        put(self, "conditions", conds)
        put(self, "condition", _conjunction(conds))
        put(self, "__class__", Statement)


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
            memo.append(_canonical(self._data))
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


def _new_policy(
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


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def seen_before(doc: Any, kind: str) -> Policy | None:
    """The policy parsed from this very mapping before, if it is unchanged since.

    The common case: the same document object passed again. A private copy taken when it was
    parsed confirms it is unchanged; only documents whose every value is a string are kept
    (`_remember_object`), since == cannot tell 1, 1.0 and True apart and a condition reads
    them differently.
    """
    if doc.__class__ is dict:
        seen = _BY_ID.get((id(doc), kind))
        if seen is not None and seen[0] == doc:
            return seen[1]
    return None


def parse_policy(
    doc: str | bytes | Mapping[str, Any] | Policy, *, kind: PolicyKind, tolerant: bool = False
) -> Policy:
    """Validate and compile a policy document (JSON text or mapping); raise PolicyDocumentError.

    `tolerant`: a malformed document is not refused but read as far as it goes, with what is
    wrong in `problems` (one per statement, at most): for callers that report every problem.
    """
    if tolerant:
        try:
            return parse_policy(doc, kind=kind)
        except PolicyDocumentError as exc:
            if isinstance(doc, Policy):
                raise
            return _tolerant(doc, kind, exc)
    seen = seen_before(doc, kind)
    if seen is not None:
        return seen
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if doc.__class__ is dict:
        pass  # the common case, read below
    elif isinstance(doc, Policy):
        if doc.kind != kind:
            raise PolicyDocumentError("", f"expected a {kind} policy, got a {doc.kind} policy")
        if doc.problems:
            raise doc.problems[0]
        return doc
    elif isinstance(doc, str | bytes | bytearray):
        try:
            text = doc.decode() if isinstance(doc, bytes | bytearray) else doc
            cached = _CACHE.get((text, kind))
            if cached is not None:
                return cached[1]
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise PolicyDocumentError("", f"not JSON: {exc}") from None
        policy = _parse(data, kind, data)
        _remember(text, kind, data, policy)
        return policy
    try:
        # marshal (format 0: no shared references, no interning marks) copies plain dicts,
        # lists, strings and numbers in C at a third of a JSON round trip; its bytes key the
        # cache. Anything else (subclasses, other mappings, cycles) is read in place.
        packed = marshal.dumps(doc, 0)  # type: ignore[arg-type]  # refused if not plain
    except (ValueError, RecursionError):
        return _parse(doc, kind, None)
    found = _CACHE.get((packed, kind))
    # The comparison rules out documents that only share their bytes (none known; cheap).
    if found is not None and found[0] == doc:
        _remember_object(doc, kind, found[0], found[1])
        return found[1]
    snapshot = marshal.loads(packed)
    if snapshot != doc:
        # NaN, which equals nothing: read in place.
        return _parse(doc, kind, None)
    policy = _parse(snapshot, kind, snapshot)
    _remember(packed, kind, snapshot, policy)
    _remember_object(doc, kind, snapshot, policy)
    return policy


# Parsed policies by document text (or a mapping's marshalled bytes): identical documents
# compile to an identical immutable Policy. Each entry keeps the private copy of the document,
# to confirm a mapping really is that document.
_CACHE: dict[tuple[str | bytes, str], tuple[Any, Policy]] = {}
# The same, by the identity of a mapping given before (confirmed against the copy).
_BY_ID: dict[tuple[int, str], tuple[Any, Policy]] = {}
_CACHE_SIZE = 2048


def clear_caches() -> None:
    """Forget parsed documents and compiled patterns (benchmarks measure cold parsing)."""
    _CACHE.clear()
    _BY_ID.clear()
    clear_pattern_cache()


def _remember(text: str | bytes, kind: str, snapshot: Any, policy: Policy) -> None:
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.clear()
    _CACHE[(text, kind)] = (snapshot, policy)


def _remember_object(doc: Any, kind: str, snapshot: Any, policy: Policy) -> None:
    if doc.__class__ is not dict:
        return
    for st in policy.statements:
        if not st._plain:
            return
    if len(_BY_ID) > _CACHE_SIZE:
        _BY_ID.clear()
    _BY_ID[(id(doc), kind)] = (snapshot, policy)


def _parse(data: Any, kind: PolicyKind, private: Any) -> Policy:
    """`private`: `data` itself when it is a JSON-decoded copy nobody else holds, else None."""
    if not isinstance(data, Mapping):
        raise PolicyDocumentError("", f"a policy document must be a JSON object, not {_kind(data)}")
    for key in data if not data.keys() <= _TOP_SET else ():
        if key not in _TOP_KEYS:
            raise PolicyDocumentError(
                str(key), f"unknown top-level key {key!r}; allowed: {', '.join(_TOP_KEYS)}"
            )
    version = data.get("Version")
    if version is not None and version not in VERSIONS:
        raise PolicyDocumentError("Version", f"{version!r} is not one of {', '.join(VERSIONS)}")
    pid = data.get("Id")
    if pid is not None and not isinstance(pid, str):
        raise PolicyDocumentError("Id", "must be a string")
    if "Statement" not in data:
        raise PolicyDocumentError("Statement", "missing; a policy needs a Statement")
    raw = data["Statement"]
    if isinstance(raw, Mapping):
        single = True
        raw = [raw]
    elif isinstance(raw, list):
        single = False
    else:
        raise PolicyDocumentError("Statement", f"must be a list or an object, not {_kind(raw)}")
    variables = version == "2012-10-17"
    stmts = tuple(
        _quick_statement(i, s, single, kind, variables)
        or _statement(i, s, "Statement" if single else f"Statement[{i}]", kind, variables)
        for i, s in enumerate(raw)
    )
    policy = _new_policy(kind, version, pid, stmts, private)
    if private is None:
        for st in stmts:
            if isinstance(st, _Pending):
                st._build()
            # Read now, while the caller's mapping is as given.
            st.action_paths, st.clauses, st.principal_names, st.conditioned  # noqa: B018
        # Rendered now, while the caller's mapping is as it was parsed.
        try:
            policy._source.append(_canonical(data))
        except (TypeError, ValueError) as exc:
            raise PolicyDocumentError("", f"not representable as JSON: {exc}") from None
    return policy


def _tolerant(doc: Any, kind: PolicyKind, first: PolicyDocumentError) -> Policy:
    """The document read as far as it goes, with every problem found (`first` was raised)."""
    data = doc
    if isinstance(doc, str | bytes | bytearray):
        try:
            data = json.loads(doc.decode() if isinstance(doc, bytes | bytearray) else doc)
        except (ValueError, RecursionError):
            data = None
    if not isinstance(data, Mapping):
        return _with_problems(kind, None, None, (), "null", [first])
    problems: list[PolicyDocumentError] = []
    for key in data:
        if key not in _TOP_SET:
            problems.append(
                PolicyDocumentError(
                    str(key), f"unknown top-level key {key!r}; allowed: {', '.join(_TOP_KEYS)}"
                )
            )
    version = data.get("Version")
    if version is not None and version not in VERSIONS:
        problems.append(
            PolicyDocumentError("Version", f"{version!r} is not one of {', '.join(VERSIONS)}")
        )
        version = None
    pid = data.get("Id")
    if pid is not None and not isinstance(pid, str):
        problems.append(PolicyDocumentError("Id", "must be a string"))
        pid = None
    raw = data.get("Statement")
    single = isinstance(raw, Mapping)
    if "Statement" not in data:
        problems.append(PolicyDocumentError("Statement", "missing; a policy needs a Statement"))
    elif not single and not isinstance(raw, list):
        problems.append(
            PolicyDocumentError("Statement", f"must be a list or an object, not {_kind(raw)}")
        )
    items = [raw] if single else raw if isinstance(raw, list) else []
    variables = version == "2012-10-17"
    stmts: list[Statement] = []
    for i, st in enumerate(items):
        path = "Statement" if single else f"Statement[{i}]"
        try:
            good = _statement(i, st, path, kind, variables)
            if isinstance(good, _Pending):
                good._build()  # now, while the caller's mapping is as it was read
            good.action_paths, good.clauses, good.principal_names, good.conditioned  # noqa: B018
            stmts.append(good)
        except PolicyDocumentError as exc:
            problems.append(exc)
            if isinstance(st, Mapping):
                stmts.append(_lenient_statement(i, st, path, kind, variables))
    try:
        source = _canonical(data)
    except (TypeError, ValueError) as exc:
        problems.append(PolicyDocumentError("", f"not representable as JSON: {exc}"))
        source = json.dumps(data, sort_keys=True, separators=(",", ":"), default=repr)
    return _with_problems(kind, version, pid, tuple(stmts), source, problems or [first])


def _with_problems(
    kind: PolicyKind,
    version: str | None,
    pid: str | None,
    stmts: tuple[Statement, ...],
    source: str,
    problems: list[PolicyDocumentError],
) -> Policy:
    policy = _new_policy(kind, version, pid, stmts, None)
    policy._source.append(source)
    object.__setattr__(policy, "problems", tuple(problems))
    return policy


def _texts(value: Any) -> tuple[str, ...]:
    """The strings of a string-or-list element; anything else reads as nothing."""
    return tuple(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))


def _lenient_statement(
    index: int, st: Mapping[str, Any], path: str, kind: PolicyKind, variables: bool
) -> Statement:
    """A malformed statement as far as it reads: odd elements read as nothing, and its
    conditions and principal are only listed (the policy holding it is never evaluated)."""
    sid, effect = st.get("Sid"), st.get("Effect")
    not_actions = _texts(st.get("NotAction"))
    actions = not_actions or _texts(st.get("Action"))
    if kind == "trust":
        resources: tuple[str, ...] = ("*",)
    else:
        resources = _texts(st.get("Resource", st.get("NotResource")))
    not_principal = "NotPrincipal" in st
    built = _new_statement(
        index,
        str(sid) if sid else None,
        effect if isinstance(effect, str) else "",
        bool(not_actions),
        kind != "trust" and "NotResource" in st and "Resource" not in st,
        not_principal,
        actions,
        resources,
        st,
        path,
        variables,
        False,
    )
    put = object.__setattr__
    put(built, "dynamic_resources", ())
    put(built, "resources", _compile_globs(resources, False))
    element = st.get("NotPrincipal" if not_principal else "Principal")
    put(built, "principal", None if kind == "identity" else _lenient_principal(element))
    put(built, "conditions", ())
    put(built, "condition", None)
    put(built, "_action_paths", tuple((path, a) for a in actions))
    put(built, "_clauses", _lenient_clauses(st.get("Condition")))
    built.principal_names, built.conditioned  # noqa: B018  # read now, while `st` is as given
    put(built, "__class__", Statement)
    return built


def _lenient_principal(raw: Any) -> PrincipalSpec:
    """The entries of a Principal element that read, compiled; the others are left out."""
    if raw == "*":
        return _EVERYONE
    kept: dict[str, list[str]] = {}
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            if key in _PRINCIPAL_KEYS:
                good = [v for v in _texts(value) if v and (key != "AWS" or _readable_aws(v))]
                if good:
                    kept[key] = good
    return _principal(kept, "") if kept else _NOONE


def _readable_aws(v: str) -> bool:
    if v == "*" or is_account_id(v):
        return True
    return arn_fields(v) is not None and "*" not in v and "?" not in v


def _lenient_clauses(cond: Any) -> tuple[ConditionClause, ...]:
    """The clauses whose operator IAM knows, of a Condition element of any shape."""
    if not isinstance(cond, Mapping):
        return ()
    return tuple(
        ConditionClause(OPERATORS[op], key.lower(), _values_of(raw), key)
        for op, block in cond.items()
        if isinstance(op, str) and op in OPERATORS and isinstance(block, Mapping)
        for key, raw in block.items()
        if isinstance(key, str)
    )


def _values_of(raw: Any) -> tuple[Any, ...]:
    return tuple(raw if isinstance(raw, list) else [raw])


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, Mapping):
        return "an object"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    return type(v).__name__


def _strings(value: Any, path: str, what: str) -> list[tuple[str, str]]:
    """A string-or-list element as (path, value) pairs; non-empty, strings only."""
    if value.__class__ is str and value:
        return [(path, value)]
    if isinstance(value, str):
        pairs = [(path, value)]
    elif isinstance(value, list):
        if not value:
            raise PolicyDocumentError(path, f"{what} must not be an empty list")
        pairs = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    else:
        raise PolicyDocumentError(path, f"{what} must be a string or a list of strings")
    for p, v in pairs:
        if not isinstance(v, str):
            raise PolicyDocumentError(p, f"{what} entries must be strings, not {_kind(v)}")
        if not v:
            raise PolicyDocumentError(p, f"{what} entries must not be empty")
    return pairs


def _one_of(st: Mapping[str, Any], a: str, b: str, path: str) -> tuple[str, Any]:
    if a in st and b in st:
        raise PolicyDocumentError(path, f"has both {a} and {b}; use exactly one")
    if a in st:
        return a, st[a]
    if b in st:
        return b, st[b]
    raise PolicyDocumentError(path, f"needs {a} or {b}")


def _quick_strings(value: Any) -> tuple[str, ...] | None:
    """A string-or-list element `_strings` accepts, read without building paths; None when
    it is anything else (then `_strings` reads it again and says what is wrong)."""
    if value.__class__ is str:
        return (value,) if value else None
    if value.__class__ is not list or not value:
        return None
    for v in value:
        if v.__class__ is not str or not v:
            return None
    return tuple(value)


def _quick_principal(raw: Any) -> bool:
    """The element passes `_principal`'s checks (True only when it surely does)."""
    if raw == "*" and raw.__class__ is str:
        return True
    if raw.__class__ is not dict or not raw:
        return False
    for key, value in raw.items():
        if key not in _PRINCIPAL_KEYS:
            return False
        values = _quick_strings(value)
        if values is None:
            return False
        if key != "AWS":
            continue
        for v in values:
            if v == "*" or is_account_id(v):
                continue
            if not v.startswith("arn:") or v.count(":") < 5 or "*" in v or "?" in v:
                return False
    return True


def _quick_statement(
    index: int, st: Any, single: bool, kind: PolicyKind, variables: bool
) -> Statement | None:
    """The common statement (plain dicts, lists and strings) checked without building paths;
    None whenever `_statement` must look, which it does with the same rules and says what
    is wrong."""
    if st.__class__ is not dict or not st.keys() <= _STMT_SET:
        return None
    sid = st.get("Sid")
    if sid is not None and sid.__class__ is not str:
        return None
    effect = st.get("Effect")
    if effect.__class__ is not str or (effect != "Allow" and effect != "Deny"):
        return None
    if "Action" in st:
        if "NotAction" in st:
            return None
        actions = _quick_strings(st["Action"])
    else:
        actions = _quick_strings(st.get("NotAction"))
    if actions is None:
        return None
    for a in actions:
        if a != "*" and not _ACTION.fullmatch(a):
            return None
    if kind == "trust":
        if "Resource" in st or "NotResource" in st:
            return None
        resources: tuple[str, ...] | None = ("*",)
    elif "Resource" in st:
        if "NotResource" in st:
            return None
        resources = _quick_strings(st["Resource"])
    else:
        resources = _quick_strings(st.get("NotResource"))
    if resources is None:
        return None
    for r in resources:
        if r != "*" and not r.startswith("arn:"):
            return None
    not_principal = False
    if kind == "identity":
        if "Principal" in st or "NotPrincipal" in st:
            return None
    elif "Principal" in st:
        if "NotPrincipal" in st or not _quick_principal(st["Principal"]):
            return None
    elif not _quick_principal(st.get("NotPrincipal")):
        return None
    else:
        not_principal = True
    path = "Statement" if single else f"Statement[{index}]"
    plain = True
    if "Condition" in st:
        plain = check_condition(st["Condition"], f"{path}.Condition")
    return _new_statement(
        index,
        sid,
        effect,
        "Action" not in st,
        kind != "trust" and "Resource" not in st,
        not_principal,
        actions,
        resources,
        st,
        path,
        variables,
        plain,
    )


def _statement(index: int, st: Any, path: str, kind: PolicyKind, variables: bool) -> Statement:
    if st.__class__ is not dict and not isinstance(st, Mapping):
        raise PolicyDocumentError(path, f"a statement must be an object, not {_kind(st)}")
    for key in st if not st.keys() <= _STMT_SET else ():
        if key not in _STMT_KEYS:
            raise PolicyDocumentError(
                f"{path}.{key}", f"unknown statement key; allowed: {', '.join(_STMT_KEYS)}"
            )
    sid = st.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyDocumentError(f"{path}.Sid", "must be a string")
    if "Effect" not in st:
        raise PolicyDocumentError(f"{path}.Effect", "missing; allowed: Allow, Deny")
    effect = st["Effect"]
    if effect not in ("Allow", "Deny"):
        raise PolicyDocumentError(f"{path}.Effect", f"{effect!r} is not Allow or Deny")

    akey, araw = _one_of(st, "Action", "NotAction", path)
    actions = _strings(araw, f"{path}.{akey}", akey)
    for p, a in actions:
        if a != "*" and not _ACTION.fullmatch(a):
            raise PolicyDocumentError(p, f"{a!r} is not 'service:Action' or '*'")

    if kind == "trust":
        # IAM refuses Resource in a trust policy ("Has prohibited field Resource"): the role
        # the policy is attached to is the resource.
        for key in ("Resource", "NotResource"):
            if key in st:
                raise PolicyDocumentError(
                    f"{path}.{key}", f"a role trust policy must not have {key}"
                )
        rkey, rraw = "Resource", "*"
    else:
        rkey, rraw = _one_of(st, "Resource", "NotResource", path)
    resource_pairs = _strings(rraw, f"{path}.{rkey}", rkey)
    for p, r in resource_pairs:
        if r != "*" and not r.startswith("arn:"):
            raise PolicyDocumentError(p, f"{r!r} is not an ARN or '*'")

    not_principal = False
    if kind == "identity":
        for key in ("Principal", "NotPrincipal"):
            if key in st:
                raise PolicyDocumentError(
                    f"{path}.{key}", f"an identity-based policy must not have {key}"
                )
    else:
        pkey, praw = _one_of(st, "Principal", "NotPrincipal", path)
        _principal(praw, f"{path}.{pkey}", build=False)
        not_principal = pkey == "NotPrincipal"

    plain = True
    if "Condition" in st:
        plain = check_condition(st["Condition"], f"{path}.Condition")

    return _new_statement(
        index,
        sid,
        effect,
        akey == "NotAction",
        rkey == "NotResource",
        not_principal,
        tuple([a for _, a in actions]),
        tuple([r for _, r in resource_pairs]),
        st,
        path,
        variables,
        plain,
    )


def _principal_names(raw: Any) -> tuple[str, ...]:
    if raw == "*":
        return ("*",)
    out: list[str] = []
    if isinstance(raw, Mapping):
        for kind, names in raw.items():
            for name in names if isinstance(names, list) else [names]:
                if isinstance(name, str):
                    out.append(name if kind == "AWS" or name == "*" else f"{kind}:{name}")
    return tuple(out)


def _clauses(cond: Any) -> tuple[ConditionClause, ...]:
    # Called after check_condition accepted the element, so its shape is known to be valid.
    if not isinstance(cond, Mapping):
        return ()
    return tuple(
        ConditionClause(
            OPERATORS[op], key.lower(), tuple(raw if isinstance(raw, list) else [raw]), key
        )
        for op, block in cond.items()
        for key, raw in block.items()
    )


def _conjunction(preds: tuple[Predicate, ...]) -> Predicate | None:
    if not preds:
        return None
    if len(preds) == 1:
        return preds[0]

    def all_hold(ctx: Context) -> bool:
        return all(p(ctx) for p in preds)

    return all_hold


_NOBODY: frozenset[Any] = frozenset()
_EVERYONE = PrincipalSpec(True, _NOBODY, _NOBODY, _NOBODY, _NOBODY)
_NOONE = PrincipalSpec(False, _NOBODY, _NOBODY, _NOBODY, _NOBODY)


def _entry(path: str, key: str, value: Any, i: int) -> str:
    """Where entry i of a principal type's string-or-list value is, as `_strings` names it."""
    return f"{path}.{key}[{i}]" if isinstance(value, list) else f"{path}.{key}"


def _principal(raw: Any, path: str, *, build: bool = True) -> PrincipalSpec:
    """The compiled element; with `build` False only its checks run (the result is a stand-in)."""
    if raw == "*":
        return _EVERYONE
    if (raw.__class__ is not dict and not isinstance(raw, Mapping)) or not raw:
        raise PolicyDocumentError(
            path, 'must be "*" or an object with AWS, Service, Federated or CanonicalUser'
        )
    everyone = False
    arns: set[str] = set()
    accounts: set[str] = set()
    role_keys: set[tuple[str, str]] = set()
    others: set[str] = set()
    for key, value in raw.items():
        if key not in _PRINCIPAL_KEYS:
            raise PolicyDocumentError(
                f"{path}.{key}", f"unknown principal type; allowed: {', '.join(_PRINCIPAL_KEYS)}"
            )
        values = _quick_strings(value)
        if values is None:
            values = tuple([v for _, v in _strings(value, f"{path}.{key}", key)])
        for i, v in enumerate(values):
            if key != "AWS":
                others.add(v)
            elif v == "*":
                everyone = True
            elif is_account_id(v):
                accounts.add(v)
            elif v.startswith("arn:") and (parts := arn_fields(v)) is not None:
                acct, res = parts[4], parts[5]
                # AWS refuses any partial wildcard, arn:aws:iam::*:root included.
                if "*" in v or "?" in v:
                    raise PolicyDocumentError(
                        _entry(path, key, value, i), "wildcards are not allowed in principal ARNs"
                    )
                if parts[2] == "iam" and res == "root":
                    accounts.add(acct)
                    continue
                arns.add(v)
                if build and parts[2] == "iam" and res.startswith("role/"):
                    role_keys.add((acct, res.rsplit("/", 1)[-1]))
            else:
                raise PolicyDocumentError(
                    _entry(path, key, value, i),
                    f"{v!r} is not '*', a 12-digit account id or an ARN",
                )
    if not build:
        return _EVERYONE
    return PrincipalSpec(
        everyone,
        frozenset(arns) if arns else _NOBODY,
        frozenset(accounts) if accounts else _NOBODY,
        frozenset(role_keys) if role_keys else _NOBODY,
        frozenset(others) if others else _NOBODY,
        frozenset([fold_principal(a) for a in arns]) if arns else _NOBODY,
        frozenset([(acct, name.lower()) for acct, name in role_keys]) if role_keys else _NOBODY,
    )
