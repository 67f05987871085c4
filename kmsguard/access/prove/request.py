"""The symbolic request: principal, action and condition-key variables over one universe."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import z3

from kmsguard.access.policy import Policy
from kmsguard.access.prove.alphabet import AWS_SET_KEYS, BeyondModel, kms_key_is_set, lit
from kmsguard.access.prove.context_keys import key_source
from kmsguard.access.prove.universe import (
    ACCOUNT_KEYS,
    CLOCK_KEYS,
    FINITE_KEYS,
    STRING_KEYS,
    Side,
    Universe,
    Unsupported,
)


def is_multi_valued(key: str, qualified: bool) -> bool:
    """Whether a request may carry several values of `key`."""
    source = key_source(key).source
    if source != "request":
        # Keys AWS sets hold one value (org paths excepted), whatever the operator says.
        return key.endswith("orgpaths")
    if key.startswith("aws:"):
        return key in AWS_SET_KEYS or qualified
    typed = kms_key_is_set(key) if key.startswith("kms:") else None
    # A key the catalog does not type may be a set: AWS decides, not the operator.
    return True if typed is None else typed


def constants(expr: z3.ExprRef, names: Iterable[str]) -> set[str]:
    """Which of `names` (free constants) `expr` may mention: read off its printed form, which
    z3 writes in C (a walk over the formula in Python costs more than the query). A name
    inside a string literal counts too: that only adds facts, never drops one."""
    text = expr.sexpr()
    return {n for n in names if re.search(rf"(?<![\w!.]){re.escape(n)}(?![\w!.])", text)}


def family(base: str) -> str | None:
    """The sort of the values an operator compares: a string, a number, a date or an IPv4."""
    if base == "Null":
        return None
    if base.startswith("Numeric"):
        return "num"
    if base.startswith("Date"):
        return "date"
    if base.endswith("IpAddress"):
        return "ip"
    return "str"


@dataclass
class Slot:
    """A condition key the caller (or an organization, or a service) chooses: 0..size values."""

    name: str  # as first written in a policy
    family: str  # "str", "num", "date", "ip"
    size: int
    count: z3.ArithRef
    values: list[z3.ExprRef]
    multi: bool = False  # a set: a witness lists its values


@dataclass
class Request:
    """The symbolic request: principal, action, and the condition keys the policies mention."""

    ctx: z3.Context
    universe: Universe
    kind: z3.ArithRef
    account: z3.ArithRef  # index into universe.accounts; the last is every other account
    acct: z3.SeqRef  # the account id itself: symbolic for the other accounts
    service: z3.ArithRef
    svc: z3.SeqRef  # the service principal's name: symbolic for the other services
    path: z3.SeqRef  # an IAM user's or role's path without its leading `/` ("" or "a/b/")
    name: z3.SeqRef  # the user or role name (a session's role name), without the path
    session: z3.SeqRef
    svc_arn: z3.BoolRef  # a service principal's request carries aws:PrincipalArn
    now: z3.ArithRef  # the request time, epoch seconds
    action: z3.ArithRef
    source: z3.BoolRef  # a service principal acts for a resource (aws:SourceAccount is set)
    identity_allows: z3.BoolRef  # an unseen principal's own IAM policies allow the request
    slots: dict[str, Slot] = field(default_factory=dict)
    facts: list[z3.BoolRef] = field(default_factory=list)
    lazy: dict[str, list[z3.BoolRef]] = field(default_factory=dict)  # by the variable they bind
    uses_username: bool = False
    # Readable names that principal patterns admit (`role/app-*` -> `app-x`), for witnesses.
    name_hints: list[str] = field(default_factory=list)


class SymbolicRequest:
    """One `Request` in one z3 context, shaped by the condition keys the policies mention."""

    def __init__(self, universe: Universe, sides: Sequence[Side], ctx: z3.Context) -> None:
        self.u = universe
        self.ctx = ctx
        c = ctx
        self.req = Request(
            ctx=c,
            universe=universe,
            kind=z3.Int("kind", c),
            account=z3.Int("account", c),
            acct=z3.String("acct", c),
            service=z3.Int("service", c),
            svc=z3.String("svc", c),
            path=z3.String("path", c),
            name=z3.String("name", c),
            session=z3.String("session", c),
            svc_arn=z3.Bool("svc_arn", c),
            now=z3.Int("now", c),
            action=z3.Int("action", c),
            source=z3.Bool("source", c),
            identity_allows=z3.Bool("identity_allows", c),
        )
        # The regular expressions' atoms: any one character, and any but `:`.
        self.any_char = z3.AllChar(z3.ReSort(z3.StringSort(c)))
        self.not_colon = z3.Intersect(self.any_char, z3.Complement(z3.Re(":", c)))
        self.account_index = {a: i for i, a in enumerate(universe.accounts)}
        self.service_index = {s: i for i, s in enumerate(universe.services)}
        self.action_index = {a.lower(): i for i, a in enumerate(universe.actions)}
        self.keys_seen: set[str] = set()
        self.used: set[str] = set()  # the request variables the query mentions
        self.fold_names = False
        self._scan(
            [s.key_policy for s in sides]
            + [p for s in sides for ps in s.identities.values() for p in ps]
            + [p for s in sides for p in s.rcps]
        )
        self.fold_names = bool({"aws:username", "aws:principalarn"} & self.keys_seen)

    # -- helpers ---------------------------------------------------------------------------
    def t(self) -> z3.BoolRef:
        return z3.BoolVal(True, self.ctx)

    def f(self) -> z3.BoolRef:
        return z3.BoolVal(False, self.ctx)

    def any_of(self, xs: Iterable[z3.BoolRef]) -> z3.BoolRef:
        items = [x for x in xs if not z3.is_false(x)]
        if any(z3.is_true(x) for x in items):
            return self.t()
        return self.f() if not items else items[0] if len(items) == 1 else z3.Or(*items)

    def all_of(self, xs: Iterable[z3.BoolRef]) -> z3.BoolRef:
        items = [x for x in xs if not z3.is_true(x)]
        if any(z3.is_false(x) for x in items):
            return self.f()
        return self.t() if not items else items[0] if len(items) == 1 else z3.And(*items)

    def s(self, text: str) -> z3.SeqRef:
        try:
            return lit(text, self.ctx)
        except BeyondModel as exc:
            raise Unsupported(str(exc)) from None

    def kind_is(self, *kinds: int) -> z3.BoolRef:
        return self.any_of(self.req.kind == k for k in kinds)

    def account_is(self, account: str) -> z3.BoolRef:
        i = self.account_index.get(account)
        if i is not None:
            return self.req.account == i
        if len(account) == 12 and account.isascii() and account.isdigit():
            # Not found in the policies' text (written with escapes, say): one of the others.
            last = len(self.u.accounts) - 1
            return z3.And(self.req.account == last, self.req.acct == self.s(account))
        return self.f()

    # -- the request's shape -----------------------------------------------------------------
    def _scan(self, policies: Sequence[Policy]) -> None:
        families: dict[str, set[str]] = {}
        multi: set[str] = set()
        names: dict[str, str] = {}
        clauses: dict[str, set[tuple[str, tuple[Any, ...]]]] = {}
        for pol in policies:
            for st in pol.statements:
                for cl in st.clauses:
                    names.setdefault(cl.key, cl.written_key)
                    self.keys_seen.add(cl.key)
            for st in pol.statements:
                if st.dynamic_resources:
                    raise Unsupported(
                        f"statement {st.sid or st.index}: policy variables in Resource"
                    )
                for cl in st.clauses:
                    qualifier, base = cl.operator.qualifier, cl.operator.base
                    for v in cl.values:
                        if isinstance(v, str) and "${" in v and pol.version == "2012-10-17":
                            raise Unsupported(
                                f"statement {st.sid or st.index}: policy variable in the "
                                f"condition on {cl.key}"
                            )
                    if cl.key in FINITE_KEYS:
                        if cl.key in ACCOUNT_KEYS and family(base) not in (None, "str"):
                            raise Unsupported(f"{cl.operator.text} on {cl.key} (an account id)")
                        continue
                    if cl.key == "aws:username":
                        self.req.uses_username = True
                    if cl.key in STRING_KEYS:
                        continue
                    names.setdefault(cl.key, cl.key)
                    clauses.setdefault(cl.key, set()).add(
                        (cl.operator.text, tuple(map(str, cl.values)))
                    )
                    fam = family(base)
                    if cl.key == "aws:epochtime" and fam == "date":
                        fam = "num"  # epoch seconds: dates and numbers compare the same number
                    if cl.key == "aws:currenttime" and fam not in (None, "date"):
                        raise Unsupported(f"{cl.operator.text} on aws:CurrentTime (a date)")
                    if fam is not None:
                        families.setdefault(cl.key, set()).add(fam)
                    else:
                        families.setdefault(cl.key, set())
                    if qualifier:
                        multi.add(cl.key)
        for key, fams in families.items():
            if len(fams) > 1:
                raise Unsupported(
                    f"condition key {key} is compared as {' and '.join(sorted(fams))}"
                )
            fam = next(iter(fams), "num" if key in CLOCK_KEYS else "str")
            # A set needs no more values than there are distinct clauses on its key: one value
            # per clause that asks whether some value passes (or fails) decides every clause.
            is_set = is_multi_valued(key, key in multi)
            size = max(1, len(clauses.get(key, ()))) if is_set else 1
            c = self.ctx
            count = z3.Int(f"n:{key}", c)
            sort: Callable[[str, z3.Context], z3.ExprRef] = {
                "str": z3.String,
                "num": z3.Real,
                "date": z3.Real,
                "ip": z3.Int,
            }[fam]
            values = [sort(f"v{i}:{key}", c) for i in range(size)]
            self.req.slots[key] = Slot(names[key], fam, size, count, values, is_set)
