"""Key policy + identity policies -> a z3 formula over one symbolic request on one key."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import z3

from kmsguard.access.arn import account_of, arn_fields, named_accounts
from kmsguard.access.catalog import catalog, expand_actions
from kmsguard.access.conditions import (
    as_bool,
    as_epoch,
    as_number,
    as_text,
    compile_operator,
    positive,
)
from kmsguard.access.evaluate import build_context
from kmsguard.access.matching import glob
from kmsguard.access.policy import ConditionClause, Policy, PrincipalSpec, Statement
from kmsguard.access.prove.alphabet import (
    AWS_SET_KEYS,
    PATH_HIGH,
    PATH_LOW,
    BeyondModel,
    fold_re,
    kms_key_actions,
    kms_key_is_set,
    lit,
)
from kmsguard.access.prove.context_keys import key_source
from kmsguard.access.prove.reserved import alias_value_fact

KINDS = ("root", "user", "role", "session", "service")
ROOT, USER, ROLE, SESSION, SERVICE = range(5)
OTHER_SERVICE = "service.amazonaws.com"
# Keys whose value follows from the principal kind, its account and the service source flag.
FINITE_KEYS = frozenset(
    {
        "aws:principalaccount",
        "kms:calleraccount",
        "aws:principaltype",
        "aws:principalisawsservice",
        "aws:resourceaccount",
        "aws:sourceaccount",
        "aws:sourceowner",
    }
)
# Keys AWS sets from the request's time: one clock for the request, stated as a window.
CLOCK_KEYS = frozenset({"aws:currenttime", "aws:epochtime"})
STRING_KEYS = frozenset({"aws:principalarn", "aws:username"})


class Unsupported(Exception):
    """A policy construct the prover does not model: the query's answer is `unknown`."""


@dataclass(frozen=True)
class Universe:
    """The finite parts of a query: the key, the actions, the accounts and the services."""

    key_arn: str
    key_account: str
    actions: tuple[str, ...]
    accounts: tuple[str, ...]  # the last one stands for every account not mentioned
    services: tuple[str, ...]  # the last one stands for every service not mentioned
    # The request time (epoch seconds, inclusive): AWS sets aws:CurrentTime from it.
    window: tuple[int, int] = (0, 0)

    @property
    def other_account(self) -> str:
        return self.accounts[-1]


def kms_actions(patterns: Sequence[str] | None, policies: Iterable[Policy]) -> tuple[str, ...]:
    """The actions a query ranges over: the given ones, else every KMS action (catalog + named)."""
    if patterns:
        out: set[str] = set()
        for p in patterns:
            out.update(expand_actions(p) if ("*" in p or "?" in p) else [p])
        return tuple(sorted(out))
    names = set(catalog().get("kms", {}).values())
    known = {n.lower() for n in names}
    for pol in policies:
        for st in pol.statements:
            for _, a in st.action_paths:
                literal = "*" not in a and "?" not in a
                if literal and a.lower().startswith("kms:") and a.lower() not in known:
                    names.add(a)
                    known.add(a.lower())
    return tuple(sorted(names))


def make_universe(
    key_arn: str,
    policies: Sequence[Policy],
    actions: Sequence[str] | None = None,
    extra_text: Iterable[str] = (),
    window: tuple[int, int] = (0, 0),
) -> Universe:
    """Collect the accounts and services that the policies (and `extra_text`) mention."""
    key_account = account_of(key_arn) or ""
    accounts = {key_account}
    services: set[str] = set()
    for pol in policies:
        accounts.update(named_accounts(pol.source))
        for st in pol.statements:
            if st.principal is not None:
                services.update(o for o in st.principal.others if _is_service(o))
    for text in extra_text:
        accounts.update(named_accounts(text))
        if _is_service(text):
            services.add(text)
    other = next(
        a for a in (str(999999999999 - i) for i in range(len(accounts) + 1)) if a not in accounts
    )
    return Universe(
        key_arn,
        key_account,
        kms_actions(actions, policies),
        (*sorted(accounts), other),
        (*sorted(services), OTHER_SERVICE),
        window,
    )


ACCOUNT_KEYS = frozenset(
    {"kms:calleraccount", "aws:principalaccount", "aws:sourceaccount", "aws:sourceowner"}
)


_SERVICE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-*?")


def _could_name_service(text: str) -> bool:
    """A service principal's name (`[a-z0-9.-]+.amazonaws.com`) could match `text` (as any
    operator reads it): said here, because z3 is slow to see an empty regex intersection."""
    return all(ch in _SERVICE_CHARS for ch in text.lower())


def constants(expr: z3.ExprRef, names: Iterable[str]) -> set[str]:
    """Which of `names` (free constants) `expr` may mention: read off its printed form, which
    z3 writes in C (a walk over the formula in Python costs more than the query). A name
    inside a string literal counts too: that only adds facts, never drops one."""
    text = expr.sexpr()
    return {n for n in names if re.search(rf"(?<![\w!.]){re.escape(n)}(?![\w!.])", text)}


def _is_set(key: str, qualified: bool) -> bool:
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


def _is_service(text: str) -> bool:
    return text.endswith(".amazonaws.com") or text.endswith(".amazonaws.com.cn")


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


@dataclass(frozen=True)
class Side:
    """One set of policies: the key policy and the identity policies of the principals known."""

    key_policy: Policy
    identities: Mapping[str, Sequence[Policy]] = field(default_factory=dict)
    # Accounts whose every identity policy is in `identities`: nobody else there is allowed by IAM.
    closed_accounts: frozenset[str] = frozenset()
    # The organization's resource control policies over the key, one per level: each must allow.
    rcps: tuple[Policy, ...] = ()


class Encoder:
    """Builds formulas over one `Request` in one z3 context."""

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
        self._re = z3.ReSort(z3.StringSort(c))
        self._any = z3.AllChar(self._re)
        self._not_colon = z3.Intersect(self._any, z3.Complement(z3.Re(":", c)))
        self._acct_index = {a: i for i, a in enumerate(universe.accounts)}
        self._svc_index = {s: i for i, s in enumerate(universe.services)}
        self._action_index = {a.lower(): i for i, a in enumerate(universe.actions)}
        self.keys_seen: set[str] = set()
        self.used: set[str] = set()  # the request variables the query mentions
        self.fold_names = False
        self._scan(
            [s.key_policy for s in sides]
            + [p for s in sides for ps in s.identities.values() for p in ps]
            + [p for s in sides for p in s.rcps]
        )
        self.fold_names = bool({"aws:username", "aws:principalarn"} & self.keys_seen)
        self._base_facts()

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

    def re_lit(self, text: str) -> z3.ReRef:
        return z3.Re(self.s(text))

    def kind_is(self, *kinds: int) -> z3.BoolRef:
        return self.any_of(self.req.kind == k for k in kinds)

    def account_is(self, account: str) -> z3.BoolRef:
        i = self._acct_index.get(account)
        if i is not None:
            return self.req.account == i
        if len(account) == 12 and account.isascii() and account.isdigit():
            # Not found in the policies' text (written with escapes, say): one of the others.
            last = len(self.u.accounts) - 1
            return z3.And(self.req.account == last, self.req.acct == self.s(account))
        return self.f()

    def _seq(self, parts: list[z3.ReRef]) -> z3.ReRef:
        if not parts:
            return z3.Re("", self.ctx)
        return parts[0] if len(parts) == 1 else z3.Concat(*parts)

    def glob(self, pattern: str) -> z3.ReRef:
        """A z3 regex for an IAM glob (`*` any run, `?` one character), linear in the pattern."""
        return self._arn_part(pattern, z3.Star(self._any), last=True)

    def fold(self, text: str, *, ascii_only: bool = False) -> z3.ReRef:
        self.s(text)  # refuses characters beyond the model
        return fold_re(text, self.ctx, ascii_only=ascii_only)

    def arn_re(self, pattern: str) -> z3.ReRef | None:
        """ArnLike/ArnEquals: the six parts globbed alone; `*` spans `:` only in the last."""
        parts = arn_fields(pattern)
        if parts is None:
            return None
        segs: list[z3.ReRef] = []
        for i, part in enumerate(parts):
            if i:
                segs.append(self.re_lit(":"))
            star = z3.Star(self._any) if i == 5 else z3.Star(self._not_colon)
            segs.append(self._arn_part(part, star, last=i == 5))
        return self._seq(segs)

    def _arn_part(self, part: str, star: z3.ReRef, *, last: bool) -> z3.ReRef:
        one = self._any if last else self._not_colon
        out: list[z3.ReRef] = []
        text = ""
        for ch in part:
            if ch in "*?":
                if text:
                    out.append(self.re_lit(text))
                    text = ""
                out.append(star if ch == "*" else one)
            else:
                text += ch
        if text:
            out.append(self.re_lit(text))
        return self._seq(out)

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
            is_set = _is_set(key, key in multi)
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

    def _base_facts(self) -> None:
        r, u, facts = self.req, self.u, self.req.facts
        c = self.ctx
        facts += [
            r.kind >= 0,
            r.kind < len(KINDS),
            r.account >= 0,
            r.account < len(u.accounts),
            r.service >= 0,
            r.service < len(u.services),
            r.action >= 0,
            r.action < len(u.actions),
        ]
        # The account id: a listed one, or any other 12 digits (never a sample of them).
        digits = z3.Loop(z3.Range("0", "9", c), 12, 12)
        # Facts on the account id, the service name and the path join the query only when it
        # mentions them: z3 is far slower with string facts it does not need.
        lazy = r.lazy
        lazy["acct"] = [z3.InRe(r.acct, digits)]
        for i, a in enumerate(u.accounts[:-1]):
            lazy["acct"].append((r.account == i) == (r.acct == self.s(a)))
        # A service principal: a listed one, or any other name the evaluator reads as one.
        # Simple character ranges: unions of many small classes make the solver 10x slower,
        # so names range over a superset of IAM's grammar: any of U+0021..U+007E but `/`.
        svc_name = z3.Concat(
            z3.Plus(z3.Union(z3.Range("-", ".", c), z3.Range("0", "9", c), z3.Range("a", "z", c))),
            z3.Re(".amazonaws.com", c),
        )
        lazy["svc"] = [z3.InRe(r.svc, svc_name)]
        for i, name in enumerate(u.services[:-1]):
            lazy["svc"].append((r.service == i) == (r.svc == self.s(name)))
        no_slash = z3.Plus(z3.Union(z3.Range("!", ".", c), z3.Range("0", "~", c)))
        facts.append(z3.InRe(r.session, no_slash))
        if self.fold_names:
            facts.append(z3.InRe(r.name, no_slash))
        else:
            lower = z3.Union(z3.Range("!", ".", c), z3.Range("0", "@", c), z3.Range("[", "~", c))
            facts.append(z3.InRe(r.name, z3.Plus(lower)))
        # An IAM path may hold any of U+0021..U+007F, `:` and `/` included.
        path_chars = z3.Range(PATH_LOW, PATH_HIGH, c)
        if not self.fold_names:
            path_chars = z3.Union(z3.Range(PATH_LOW, "@", c), z3.Range("[", PATH_HIGH, c))
        path_re = z3.Union(z3.Re("", c), z3.Concat(z3.Plus(path_chars), z3.Re("/", c)))
        lazy["path"] = [
            z3.InRe(r.path, path_re),
            z3.Implies(z3.Or(r.kind == ROOT, r.kind == SERVICE), r.path == self.s("")),
        ]
        lo, hi = u.window
        facts += [r.now >= lo, r.now <= hi]
        endpoint = self.s(".amazonaws.com")
        for key, slot in r.slots.items():
            facts += [slot.count >= 0, slot.count <= slot.size]
            src = key_source(key).source
            facts += self._action_facts(key, slot)
            if key in CLOCK_KEYS:
                facts += [slot.count == 1, slot.values[0] == z3.ToReal(r.now)]
                continue
            if src == "time":
                # Set with temporary credentials only (a caller may or may not use them), never
                # for a service principal; an issue time or an MFA age lies before the request.
                facts.append(z3.Implies(r.kind == SERVICE, slot.count == 0))
                if key == "aws:tokenissuetime":
                    facts.append(slot.values[0] <= z3.ToReal(r.now))
                else:
                    facts.append(slot.values[0] >= 0)
            for i, v in enumerate(slot.values):
                present = slot.count > i
                if slot.family == "ip":
                    facts += [v >= 0, v < 2**32]
                if src == "via-service" and slot.family == "str":
                    facts.append(z3.Implies(present, z3.SuffixOf(endpoint, v)))
                domain = self._domain(key) if slot.family == "str" else None
                if domain is not None:
                    facts.append(z3.Implies(present, z3.InRe(v, domain)))
                if key == "aws:sourcearn":
                    facts.append(z3.Implies(present, self._source_arn(v)))
                alias_fact = alias_value_fact(key, v, present) if slot.family == "str" else None
                if alias_fact is not None:
                    facts.append(alias_fact)
            if src == "organization":
                facts.append(z3.Implies(r.kind == SERVICE, slot.count == 0))
            if src == "service-source":
                facts.append((slot.count > 0) == z3.And(r.kind == SERVICE, r.source))
        facts.append(z3.Implies(r.kind != SERVICE, z3.Not(r.source)))

    def _domain(self, key: str) -> z3.ReRef | None:
        """The values AWS can set for a key it sets, so no witness holds an impossible one."""
        c = self.ctx
        low_digit = z3.Union(z3.Range("a", "z", c), z3.Range("0", "9", c))

        def run(lo: int, hi: int) -> z3.ReRef:
            return z3.Loop(low_digit, lo, hi)

        org = z3.Concat(z3.Re("o-", c), run(10, 32))
        if key in ("aws:principalorgid", "aws:sourceorgid", "aws:resourceorgid"):
            return org  # Organizations: an organization id is o- and 10 to 32 of [a-z0-9]
        if key.endswith("orgpaths"):
            root = z3.Concat(z3.Re("/r-", c), run(4, 32), z3.Re("/", c))
            ou = z3.Concat(z3.Re("ou-", c), run(4, 32), z3.Re("-", c), run(8, 32), z3.Re("/", c))
            return z3.Concat(org, root, z3.Star(ou))
        return None  # kms:ViaService: an endpoint name, fixed by its suffix above

    def _action_facts(self, key: str, slot: Slot) -> list[z3.BoolRef]:
        """A KMS key the catalog lists for some actions is absent from the others' requests."""
        if not key.startswith("kms:"):
            return []
        listed = kms_key_actions(key)
        if listed is None:
            return []  # unknown to the catalog (perhaps newer): any action may carry it
        known = {a.lower() for a in catalog().get("kms", {}).values()}
        never = [
            i
            for i, a in enumerate(self.u.actions)
            if a.lower() in known and a.lower() not in listed
        ]
        if not never:
            return []
        return [z3.Implies(self.any_of(self.req.action == i for i in never), slot.count == 0)]

    def _source_arn(self, v: z3.SeqRef) -> z3.BoolRef:
        """aws:SourceArn names a resource of the account the service acts for.

        An unlisted account's ARN holds some unlisted account id, not necessarily the same
        one as aws:SourceAccount: a superset of what AWS sends, and cheap to solve.
        """
        u, r = self.u, self.req
        listed = [z3.InRe(v, self._source_re(self.re_lit(a))) for a in u.accounts[:-1]]
        other = z3.And(
            z3.InRe(v, self._source_re(z3.Loop(z3.Range("0", "9", self.ctx), 12, 12))),
            *(z3.Not(x) for x in listed),
        )
        cases = [z3.Implies(r.account == i, x) for i, x in enumerate(listed)]
        return z3.And(*cases, z3.Implies(r.account == len(u.accounts) - 1, other))

    def _source_re(self, account: z3.ReRef) -> z3.ReRef:
        part = z3.Star(self._not_colon)
        colon = self.re_lit(":")
        return z3.Concat(
            self.re_lit("arn:"),
            part,
            colon,
            part,
            colon,
            part,
            colon,
            account,
            colon,
            z3.Plus(self._any),
        )

    # -- principals --------------------------------------------------------------------------
    def principal_is(self, arn: str) -> z3.BoolRef:
        """The request's principal is `arn` (a role ARN also covers its sessions)."""
        r = self.req
        if arn in self._svc_index:
            return z3.And(r.kind == SERVICE, r.service == self._svc_index[arn])
        if re.fullmatch(r"\d{12}", arn):
            return z3.And(r.kind == ROOT, self.account_is(arn))
        parts = arn_fields(arn)
        if parts is None or parts[0] != "arn":
            return self.f()
        service, account, res = parts[2], parts[4], parts[5]
        acct = self.account_is(account)
        if service == "iam" and res == "root":
            return z3.And(r.kind == ROOT, acct)
        if service == "iam" and res.startswith("user/"):
            return z3.And(r.kind == USER, acct, self._iam_name_is(res[5:]))
        if service == "iam" and res.startswith("role/"):
            return z3.And(
                acct,
                z3.Or(
                    z3.And(r.kind == ROLE, self._iam_name_is(res[5:])),
                    z3.And(r.kind == SESSION, self._role_is(res.rsplit("/", 1)[-1])),
                ),
            )
        if service == "sts" and res.startswith("assumed-role/"):
            segs = res.split("/")
            if len(segs) != 3:
                return self.f()
            return z3.And(
                r.kind == SESSION, acct, self._role_is(segs[1]), r.session == self.s(segs[2])
            )
        return self.f()

    def _iam_name_is(self, path_and_name: str) -> z3.BoolRef:
        # The path is "" or ends in `/` and the name holds no `/`: split at the last one.
        head, slash, name = path_and_name.rpartition("/")
        path = head + slash
        return z3.And(self._folded(self.req.path, path), self._folded(self.req.name, name))

    def _role_is(self, name: str) -> z3.BoolRef:
        return self._folded(self.req.name, name)

    def _folded(self, x: z3.SeqRef, text: str) -> z3.BoolRef:
        """IAM compares user and role names (and paths) case-insensitively. Where no condition
        reads a name, names are all lower case (the same principals, to every statement), and
        an equality is much faster for z3 than a case-blind pattern."""
        if self.fold_names:
            return z3.InRe(x, self.fold(text, ascii_only=True))
        return x == self.s(text.lower())

    def _arn_exact(self, arn: str) -> z3.BoolRef:
        """The request's principal ARN is exactly `arn` (no role-to-session widening)."""
        r = self.req
        parts = arn_fields(arn)
        if parts is not None and parts[2] == "iam" and parts[5].startswith("role/"):
            return z3.And(
                r.kind == ROLE, self.account_is(parts[4]), self._iam_name_is(parts[5][5:])
            )
        return self.principal_is(arn)

    def principal_match(self, spec: PrincipalSpec, negated: bool) -> tuple[z3.BoolRef, z3.BoolRef]:
        """(names the principal, delegates to its account), as PrincipalSpec.match/excludes."""
        r = self.req
        services = [self.principal_is(o) for o in spec.others if o in self._svc_index]
        if negated:
            if spec.everyone:
                return self.f(), self.f()
            acct_ok = self.any_of(self.account_is(a) for a in spec.accounts)
            arn_in = self.any_of(self._arn_exact(a) for a in spec.arns)
            role_key = self.any_of(
                z3.And(self.account_is(acct), self._role_is(name)) for acct, name in spec.role_keys
            )
            excluded = self.any_of(
                [
                    *services,
                    z3.And(r.kind == ROOT, acct_ok),
                    z3.And(r.kind == SESSION, arn_in, role_key, acct_ok),
                    z3.And(self.kind_is(USER, ROLE), arn_in, acct_ok),
                ]
            )
            return z3.Not(excluded), self.f()
        if spec.everyone:
            return self.t(), self.f()
        direct = [*services, *(self._arn_exact(a) for a in spec.arns)]
        direct += [
            z3.And(r.kind == SESSION, self.account_is(acct), self._role_is(name))
            for acct, name in spec.role_keys
        ]
        in_account = self.any_of(self.account_is(a) for a in spec.accounts)
        direct.append(z3.And(r.kind == ROOT, in_account))
        delegated = z3.And(self.kind_is(USER, ROLE, SESSION), in_account)
        return self.any_of(direct), delegated

    # -- statements ---------------------------------------------------------------------------
    def action_match(self, st: Statement) -> z3.BoolRef:
        hits = [i for i, a in enumerate(self.u.actions) if st.action_matches(a.lower())]
        if len(hits) == len(self.u.actions):
            return self.t()
        # Runs of consecutive indices as ranges: far fewer terms than one equality per action.
        runs: list[list[int]] = []
        for i in hits:
            if runs and runs[-1][1] == i - 1:
                runs[-1][1] = i
            else:
                runs.append([i, i])
        a = self.req.action
        return self.any_of(a == lo if lo == hi else z3.And(a >= lo, a <= hi) for lo, hi in runs)

    def applies(self, st: Statement) -> z3.BoolRef:
        """Action, resource and conditions of a statement hold (not its principal)."""
        if not st.resource_matches(self.u.key_arn, {}):
            return self.f()
        return self.all_of([self.action_match(st), *(self.clause(c) for c in st.clauses)])

    def allowed(self, side: Side) -> z3.BoolRef:
        """AWS's decision for a KMS key: the key policy must allow, directly or by delegation."""
        r = self.req
        deny: list[z3.BoolRef] = []
        direct: list[z3.BoolRef] = []
        delegated: list[z3.BoolRef] = []
        for st in side.key_policy.statements:
            assert st.principal is not None
            d, a = self.principal_match(st.principal, st.not_principal)
            body = self.applies(st)
            if st.is_deny:
                deny.append(z3.And(self.any_of([d, a]), body))
            else:
                direct.append(z3.And(d, body))
                delegated.append(z3.And(a, body))
        known: list[z3.BoolRef] = []
        id_allow: list[z3.BoolRef] = []
        for arn, docs in side.identities.items():
            is_p = self.principal_is(arn)
            known.append(is_p)
            for pol in docs:
                for st in pol.statements:
                    (deny if st.is_deny else id_allow).append(z3.And(is_p, self.applies(st)))
        rcp_levels = self._rcp_levels(side, deny)
        closed = self.any_of(self.account_is(a) for a in side.closed_accounts)
        unseen = z3.And(z3.Not(self.any_of(known)), z3.Not(closed), r.identity_allows)
        any_direct = self.any_of(direct)
        cross = z3.And(r.kind != SERVICE, r.account != self._acct_index[self.u.key_account])
        return z3.And(
            z3.Not(self.any_of(deny)),
            self.any_of([any_direct, *delegated]),
            self.any_of([z3.And(any_direct, z3.Not(cross)), r.kind == ROOT, *id_allow, unseen]),
            *rcp_levels,
        )

    def _rcp_levels(self, side: Side, deny: list[z3.BoolRef]) -> list[z3.BoolRef]:
        """Each RCP level must allow; its Deny statements join `deny`. As the evaluator does,
        every principal is subject to them, and kms:RetireGrant is not (AWS KMS)."""
        if not side.rcps:
            return []
        retire = self._action_index.get("kms:retiregrant")
        controlled = self.t() if retire is None else self.req.action != retire
        levels: list[z3.BoolRef] = []
        for pol in side.rcps:
            allows: list[z3.BoolRef] = []
            for st in pol.statements:
                if st.principal is None:
                    raise Unsupported(f"RCP statement {st.sid or st.index} without Principal")
                d, a = self.principal_match(st.principal, st.not_principal)
                body = z3.And(self.any_of([d, a]), self.applies(st))
                if st.is_deny:
                    deny.append(z3.And(controlled, body))
                else:
                    allows.append(body)
            levels.append(z3.Or(z3.Not(controlled), self.any_of(allows)))
        return levels

    # -- conditions ---------------------------------------------------------------------------
    def clause(self, cl: ConditionClause) -> z3.BoolRef:
        op = cl.operator
        qualifier, base, if_exists = op.qualifier, op.base, op.if_exists
        if cl.key in ACCOUNT_KEYS:
            return self._account_clause(cl)
        if cl.key in FINITE_KEYS:
            return self._finite_clause(cl)
        items = self._items(cl, base)
        absent = self.all_of(z3.Not(e) for e, _ in items)
        if base == "Null":
            wants = {as_bool(v) for v in cl.values}
            if wants == {True, False}:
                return self.t()
            return absent if True in wants else z3.Not(absent)
        negated = op.negated
        if qualifier == "ForAllValues":
            return self.all_of(z3.Implies(e, z3.Not(t) if negated else t) for e, t in items)
        if qualifier == "ForAnyValue":
            hit = self.any_of(z3.And(e, z3.Not(t) if negated else t) for e, t in items)
            return self.any_of([absent, hit]) if if_exists else hit
        hit = self.any_of(z3.And(e, t) for e, t in items)
        out = z3.Not(hit) if negated else hit
        return self.any_of([absent, out]) if if_exists and not negated else out

    def _items(self, cl: ConditionClause, base: str) -> list[tuple[z3.BoolRef, z3.BoolRef]]:
        """(value i exists, value i passes the positive test) for each possible value."""
        r = self.req
        if cl.key == "aws:principalarn":
            # AWS documents the key for IAM principals only: a service's request may lack it.
            present = z3.Or(r.kind != SERVICE, r.svc_arn)
            return [(present, self._principal_arn_test(cl, base))]
        if cl.key == "aws:username":
            if base == "Null":
                return [(r.kind == USER, self.t())]
            test = self.any_of(self._string_test(r.name, v, base) for v in cl.values)
            return [(r.kind == USER, test)]
        slot = self.req.slots[cl.key]
        out = []
        for i, v in enumerate(slot.values):
            test = self.t() if base == "Null" else self._value_test(slot, v, cl.values, base)
            out.append((slot.count > i, test))
        return out

    def _value_test(
        self, slot: Slot, x: z3.ExprRef, values: Sequence[Any], base: str
    ) -> z3.BoolRef:
        pos = positive(base)
        if slot.family == "str":
            assert isinstance(x, z3.SeqRef)
            return self.any_of(self._string_test(x, v, pos) for v in values)
        if slot.family in ("num", "date"):
            numeric = pos.startswith("Numeric")
            conv = as_number if numeric else as_epoch
            cmp = pos[len("Numeric") :] if numeric else pos[len("Date") :]
            tests = []
            for v in values:
                n = conv(v)
                if n is None:
                    continue
                if not math.isfinite(n):
                    raise Unsupported(
                        f"{v!r} ({pos}) is beyond the finite numbers the prover models"
                    )
                exact = Fraction(float(n))
                val = z3.RealVal(f"{exact.numerator}/{exact.denominator}", self.ctx)
                tests.append(_COMPARE[cmp](x, val))
            return self.any_of(tests)
        tests = []
        for v in values:
            net = ipaddress.ip_network(str(v).strip(), strict=False)
            if net.version != 4:
                raise Unsupported(f"IPv6 network {v!r} in a condition")
            lo, hi = int(net.network_address), int(net.broadcast_address)
            tests.append(z3.And(x >= lo, x <= hi))
        return self.any_of(tests)

    def _string_test(self, x: z3.SeqRef, v: Any, base: str) -> z3.BoolRef:
        pos = positive(base)
        if pos == "Bool":
            b = as_bool(v)
            return x == self.s("true" if b else "false")
        text = as_text(v)
        return self.f() if text is None else self._text_test(x, text, pos)

    def _arn_resource(self) -> z3.SeqRef:
        """The resource part of aws:PrincipalArn: a role session's is its role's, with its path."""
        r = self.req
        return z3.If(
            r.kind == ROOT,
            self.s("root"),
            z3.Concat(z3.If(r.kind == USER, self.s("user/"), self.s("role/")), r.path, r.name),
        )

    def _principal_arn_test(self, cl: ConditionClause, base: str) -> z3.BoolRef:
        """aws:PrincipalArn against each value, over the ARN as AWS builds it.

        A value whose first five parts are literal is split there (the account, then the rest
        in z3); any other is matched against the whole ARN. Either way `:` may occur in the
        path, as IAM allows.
        """
        r = self.req
        if base == "Null":
            return self.t()
        pos = positive(base)
        tests: list[z3.BoolRef] = []
        for v in cl.values:
            text = as_text(v) if pos != "Bool" else None
            if text is None or pos not in _ARN_TESTS:
                continue
            if pos in ("StringLike", "ArnLike", "ArnEquals"):
                hint = text.rsplit("/", 1)[-1].replace("*", "x").replace("?", "x")
                if "/" in text and hint and hint not in r.name_hints and len(r.name_hints) < 3:
                    r.name_hints.append(hint)
            if _could_name_service(text):
                tests.append(z3.And(r.kind == SERVICE, self._text_test(r.svc, text, pos)))
            tests.append(z3.And(r.kind != SERVICE, self._iam_arn_test(text, pos)))
        return self.any_of(tests)

    def _text_test(self, x: z3.SeqRef, text: str, pos: str) -> z3.BoolRef:
        if pos in ("StringEquals", "BinaryEquals"):
            return x == self.s(text)
        if pos == "StringEqualsIgnoreCase":
            return z3.InRe(x, self.fold(text))
        if pos == "StringLike":
            return z3.InRe(x, self.glob(text))
        regex = self.arn_re(text)
        return self.f() if regex is None else z3.InRe(x, regex)

    def _iam_arn_test(self, text: str, pos: str) -> z3.BoolRef:
        r = self.req
        parts = arn_fields(text)
        arn_op = pos.startswith("Arn")
        if parts is not None and (arn_op or not any(ch in p for p in parts[:5] for ch in "*?")):
            head, tail = parts[:5], parts[5]
            for p, real in zip(head[:4], ("arn", "aws", "iam", ""), strict=True):
                if not _python_test(pos, p, real):
                    return self.f()
            if "*" in head[4] or "?" in head[4]:
                acct_ok = z3.InRe(
                    r.acct, self._arn_part(head[4], z3.Star(self._not_colon), last=False)
                )
            else:
                acct_ok = self.account_is(head[4])
            return z3.And(acct_ok, self._resource_test(tail, "StringLike" if arn_op else pos))
        if pos != "StringLike":
            return self.f()  # an IAM principal's ARN has six parts at least
        return self._glob_arn(text)

    def _glob_arn(self, pattern: str) -> z3.BoolRef:
        """StringLike on the whole `arn:aws:iam::<account>:<resource>`, without asking z3 to
        split a concatenation: the glob runs here over the fixed-length head (the account's
        twelve digits as symbols), and each state it can reach there takes the resource."""
        r = self.req
        tokens = list(pattern)
        m = len(tokens)

        def close(reach: dict[int, z3.BoolRef]) -> dict[int, z3.BoolRef]:
            out = dict(reach)
            for j in range(m):
                if tokens[j] == "*" and j in out:
                    out[j + 1] = self.any_of([out.get(j + 1, self.f()), out[j]])
            return out

        head: list[str | int] = [*"arn:aws:iam::", *range(12), ":"]
        reach = close({0: self.t()})
        for ch in head:
            nxt: dict[int, list[z3.BoolRef]] = {}
            for j, here in reach.items():
                if j == m or z3.is_false(here):
                    continue
                tok = tokens[j]
                if tok == "*":
                    nxt.setdefault(j, []).append(here)
                    continue
                if tok == "?":
                    ok: z3.BoolRef = self.t()
                elif isinstance(ch, str):
                    ok = self.t() if ch == tok else self.f()
                elif tok.isdigit():
                    ok = z3.SubString(r.acct, ch, 1) == self.s(tok)
                else:
                    ok = self.f()
                nxt.setdefault(j + 1, []).append(self.all_of([here, ok]))
            reach = close({j: self.any_of(v) for j, v in nxt.items()})
        return self.any_of(
            self.all_of([here, self._resource_test("".join(tokens[j:]), "StringLike")])
            for j, here in reach.items()
        )

    def _resource_test(self, text: str, pos: str) -> z3.BoolRef:
        """The resource part of aws:PrincipalArn passes, one case per kind of principal (z3
        is slow on a concatenation that holds a choice)."""
        r = self.req
        root = _python_test(pos, text, "root")
        cases = [z3.And(r.kind == ROOT, self.t() if root else self.f())]
        for kinds, word in (((USER,), "user/"), ((ROLE, SESSION), "role/")):
            res = z3.Concat(self.s(word), r.path, r.name)
            cases.append(z3.And(self.kind_is(*kinds), self._text_test(res, text, pos)))
        return self.any_of(cases)

    def _account_test(self, v: Any, pos: str) -> z3.BoolRef:
        """An account id passes a positive string test: by the account's index where the value
        names one account (z3 is slow on string disequalities), else over its digits."""
        text = as_text(v)
        if text is None or pos == "Bool":
            return self.f()
        exact = pos in ("StringEquals", "BinaryEquals", "StringEqualsIgnoreCase")
        if exact or (pos == "StringLike" and "*" not in text and "?" not in text):
            return self.account_is(text)
        return self._string_test(self.req.acct, v, pos)

    def _account_clause(self, cl: ConditionClause) -> z3.BoolRef:
        """An account-id key, tested on the symbolic account id (account wildcards exactly)."""
        r = self.req
        op = cl.operator
        qualifier, base, if_exists = op.qualifier, op.base, op.if_exists
        if cl.key in ("aws:sourceaccount", "aws:sourceowner"):
            present: z3.BoolRef = z3.And(r.kind == SERVICE, r.source)
        else:
            present = r.kind != SERVICE
        if base == "Null":
            wants = {as_bool(v) for v in cl.values}
            if wants == {True, False}:
                return self.t()
            return z3.Not(present) if True in wants else present
        negated = op.negated
        test = self.any_of(self._account_test(v, op.positive) for v in cl.values)
        passes = z3.Not(test) if negated else test
        if qualifier == "ForAllValues":
            return z3.Implies(present, passes)
        if qualifier == "ForAnyValue":
            hit = z3.And(present, passes)
            return z3.Or(z3.Not(present), hit) if if_exists else hit
        if negated:
            return z3.Not(z3.And(present, test))
        hit = z3.And(present, test)
        return z3.Or(z3.Not(present), hit) if if_exists else hit

    def _finite_clause(self, cl: ConditionClause) -> z3.BoolRef:
        """Keys set from (kind, account, source flag): decided by the evaluator's own predicate."""
        (pred,) = compile_operator(cl.operator, {cl.key: list(cl.values)}, "Condition")
        r = self.req
        hits: list[z3.BoolRef] = []
        for kind in range(len(KINDS)):
            for i, acct in enumerate(self.u.accounts):
                for source in (False, True) if kind == SERVICE else (False,):
                    if pred(self.finite_context(kind, acct, source)):
                        terms = [r.kind == kind, r.account == i]
                        if kind == SERVICE:
                            terms.append(r.source if source else z3.Not(r.source))
                        hits.append(z3.And(*terms))
        return self.any_of(hits)

    def finite_context(self, kind: int, account: str, source: bool) -> dict[str, Any]:
        """The finite keys as the evaluator derives them (plus a service's source account)."""
        principal = sample_principal(kind, account, "x", "s", self.u.services[0])
        ctx = build_context(principal, self.u.key_arn)
        if kind == SERVICE and source:
            ctx["aws:sourceaccount"] = account
            ctx["aws:sourceowner"] = account
        return ctx


def sample_principal(kind: int, account: str, name: str, session: str, service: str) -> str:
    if kind == ROOT:
        return f"arn:aws:iam::{account}:root"
    if kind == USER:
        return f"arn:aws:iam::{account}:user/{name}"
    if kind == ROLE:
        return f"arn:aws:iam::{account}:role/{name}"
    if kind == SESSION:
        return f"arn:aws:sts::{account}:assumed-role/{name}/{session}"
    return service


def family(base: str) -> str | None:
    if base == "Null":
        return None
    if base.startswith("Numeric"):
        return "num"
    if base.startswith("Date"):
        return "date"
    if base.endswith("IpAddress"):
        return "ip"
    return "str"


_COMPARE: dict[str, Callable[[Any, Any], z3.BoolRef]] = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


_ARN_TESTS = frozenset(
    {"StringEquals", "BinaryEquals", "StringEqualsIgnoreCase", "StringLike", "ArnLike", "ArnEquals"}
)


def _python_test(pos: str, pattern: str, real: str) -> bool:
    if pos in ("StringEquals", "BinaryEquals"):
        return pattern == real
    if pos == "StringEqualsIgnoreCase":
        return pattern.lower() == real.lower()
    if pos in ("StringLike", "ArnLike", "ArnEquals"):
        return glob(pattern).matches(real)
    return False
