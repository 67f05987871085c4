"""The questions: a verdict each, with a concrete request re-checked by the evaluator."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, Literal

import z3

from kmsguard.access.arn import account_of, is_key_arn, key_arn, named_accounts, parse_arn
from kmsguard.access.evaluate import Decision, PolicyLike, evaluate
from kmsguard.access.policy import Policy, parse_policy
from kmsguard.access.prove.alphabet import text_of
from kmsguard.access.prove.encode import (
    CLOCK_KEYS,
    KINDS,
    ROOT,
    SERVICE,
    SESSION,
    Encoder,
    Side,
    Unsupported,
    constants,
    kms_actions,
    make_universe,
    sample_principal,
)

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_REGION = "us-east-1"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"  # AWS's documentation example key id
Status = Literal["pass", "fail", "unknown"]
# Without the key's ARN its account is unknown: every account the policies name may own it, or
# one they do not. Each is asked in turn, so many named accounts would multiply the work.
MAX_KEY_ACCOUNTS = 8
# When a request may be made: one time, or a window (first, last); None is now.
RequestTime = datetime | tuple[datetime, datetime] | None


class WitnessNotConfirmed(AssertionError):
    """The solver's request is not decided as predicted by the evaluator: a prover bug."""


@dataclass(frozen=True)
class Witness:
    """One concrete request, and how each side decides it (confirmed by `evaluate`)."""

    principal: str
    action: str
    resource: str
    context: dict[str, Any]
    # The principal's own account is not ours to see: its IAM policies are assumed to allow it.
    identity_assumed: bool
    allowed: tuple[bool, ...]  # per side, as the evaluator decided
    actions: tuple[str, ...] = ()  # every action of the universe the same request shape gets
    why: str = ""  # the evaluator's explanation on the last side that allows it

    def describe(self) -> str:
        what = ", ".join(self.actions) if len(self.actions) > 1 else self.action
        text = f"{self.principal} may {what}"
        if self.context:
            text += " with " + ", ".join(f"{k}={_show(v)}" for k, v in self.context.items())
        if self.identity_assumed:
            text += " (if its own IAM policies allow it)"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "principal": self.principal,
            "action": self.action,
            "actions": list(self.actions or (self.action,)),
            "resource": self.resource,
            "context": self.context,
            "identity_policies_assumed": self.identity_assumed,
        }


@dataclass(frozen=True)
class Verdict:
    """pass: the property holds; fail: `witnesses` break it; unknown: `reason` says why."""

    question: str
    status: Status
    witnesses: tuple[Witness, ...] = ()
    reason: str = ""
    complete: bool = True  # False when more kinds of witness may exist than were listed

    @property
    def witness(self) -> Witness | None:
        return self.witnesses[0] if self.witnesses else None

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "status": self.status,
            "reason": self.reason,
            "witnesses": [w.to_json() for w in self.witnesses],
            "complete": self.complete,
        }


@dataclass(frozen=True)
class Key:
    """The key a policy guards: its ARN fixes the owning account (same- vs cross-account)."""

    arn: str

    def __post_init__(self) -> None:
        if not is_key_arn(self.arn):
            raise ValueError(
                f"{self.arn!r} is not a KMS key ARN (arn:<partition>:kms:<region>:<account>:"
                "key/<id>)"
            )

    @staticmethod
    def in_account(account: str, region: str = DEFAULT_REGION) -> Key:
        return Key(key_arn(account, KEY_ID, region))

    @property
    def account(self) -> str:
        return account_of(self.arn) or ""


@dataclass
class _Query:
    question: str
    key: Key
    sides: list[Side]
    actions: Sequence[str] | None
    timeout_s: float
    extra_text: list[str] = field(default_factory=list)
    when: RequestTime = None

    def window(self) -> tuple[int, int]:
        """The request time as whole epoch seconds, as AWS sets aws:EpochTime."""
        if self.when is None:
            now = int(time.time())
            return now, now
        first, last = self.when if isinstance(self.when, tuple) else (self.when, self.when)
        lo, hi = (int(_utc(t).timestamp()) for t in (first, last))
        if lo > hi:
            raise ValueError(f"request time window ends before it starts ({first} > {last})")
        return lo, hi


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _resource_policy(doc: PolicyLike) -> Policy:
    return doc if isinstance(doc, Policy) else parse_policy(doc, kind="resource")


def _run(
    q: _Query,
    goal: Callable[[Encoder, list[z3.BoolRef]], z3.BoolRef],
    expect: Callable[[tuple[bool, ...]], bool],
    block: Callable[[Encoder, z3.ModelRef], z3.BoolRef] | None = None,
    limit: int = 1,
) -> Verdict:
    """Solve `goal` in a fresh context; re-check each witness; `block` enumerates more kinds."""
    policies = (
        [s.key_policy for s in q.sides]
        + [p for s in q.sides for docs in s.identities.values() for p in docs]
        + [p for s in q.sides for p in s.rcps]
    )
    try:
        universe = make_universe(q.key.arn, policies, q.actions, q.extra_text, q.window())
        ctx = z3.Context()
        enc = Encoder(universe, q.sides, ctx)
        allowed = [enc.allowed(s) for s in q.sides]
        solver = z3.Solver(ctx=ctx)
        solver.set("phase_selection", 0)
        solver.set("timeout", max(1, int(q.timeout_s * 1000)))
        target = goal(enc, allowed)
        enc.used = constants(target, enc.req.lazy)
        lazy = [f for name, fs in enc.req.lazy.items() if name in enc.used for f in fs]
        solver.add(*enc.req.facts, *lazy, target)
    except Unsupported as exc:
        return Verdict(q.question, "unknown", reason=f"not modelled: {exc}")
    except z3.Z3Exception as exc:
        # A value the solver refuses is beyond the model: undecided, never a pass.
        return Verdict(q.question, "unknown", reason=f"not modelled: the solver refused it ({exc})")
    found: list[Witness] = []
    while len(found) < limit:
        result = solver.check()
        if result == z3.unknown:
            reason = solver.reason_unknown()
            return Verdict(
                q.question,
                "unknown",
                tuple(found),
                reason=f"the solver gave up after {q.timeout_s:g} s ({reason})",
                complete=False,
            )
        if result == z3.unsat:
            break
        model = _steer(solver, enc, allowed, q.timeout_s)
        w = _witness(enc, model, allowed, q.sides)
        predicted = tuple(z3.is_true(model.eval(a, model_completion=True)) for a in allowed)
        if w.allowed != predicted or not expect(w.allowed):
            raise WitnessNotConfirmed(f"{q.question}: evaluator disagrees on {w.to_json()}")
        found.append(_widen(w, q.sides, expect))
        if block is None:
            break
        solver.add(block(enc, model))
    if not found:
        return Verdict(q.question, "pass")
    complete = block is None or len(found) < limit
    return Verdict(q.question, "fail", tuple(found), complete=complete)


def _steer(
    solver: z3.Solver, enc: Encoder, allowed: list[z3.BoolRef], timeout_s: float
) -> z3.ModelRef:
    """Prefer readable values: an account root, no assumed IAM policy, names like `x`.

    Each wish gets a small time budget: readability is never worth a slow answer.
    """
    model = solver.model()
    r = enc.req
    c = enc.ctx
    budget = min(timeout_s, max(_STEER_S, timeout_s / 20))
    solver.set("timeout", max(1, int(budget * 1000)))
    # Wishes are asserted behind fresh guard literals and checked as assumptions, never with
    # push/pop: z3 can hang, beyond any timeout, in a push after a check that ended unsat.
    # An unassumed guard is free, so the guarded assertions constrain nothing afterwards.
    kept: list[z3.BoolRef] = []

    def guarded(wish: z3.BoolRef) -> z3.BoolRef:
        guard = z3.FreshBool("steer", c)
        solver.add(z3.Implies(guard, wish))
        return guard

    def attempt(wish: z3.BoolRef, keep: bool) -> None:
        nonlocal model
        if z3.is_true(model.eval(wish, model_completion=True)):
            if keep:
                kept.append(guarded(wish))
            return  # already so: no solver call
        guard = guarded(wish)
        if solver.check(*kept, guard) == z3.sat:
            model = solver.model()
            if keep:
                kept.append(guard)

    attempt(r.kind == ROOT, keep=False)
    attempt(r.kind != SESSION, keep=False)  # a role reads better than one of its sessions
    # Steering changes only the details, never which principal kind, account or action it is.
    for v in (r.kind, r.account, r.action):
        kept.append(guarded(v == model.eval(v, model_completion=True)))
    named = z3.And(r.kind != ROOT, r.kind != SERVICE)
    plain = z3.Plus(z3.Union(z3.Range("a", "z", c), z3.Range("0", "9", c), z3.Re("-", c)))
    other = len(enc.u.accounts) - 1
    other_svc = len(enc.u.services) - 1
    wishes: list[z3.BoolRef] = [z3.Not(r.identity_allows), z3.Implies(r.kind == SERVICE, r.svc_arn)]
    if "acct" in enc.used:
        wishes.append(z3.Implies(r.account == other, r.acct == enc.s(enc.u.accounts[-1])))
    if "svc" in enc.used:
        wishes.append(z3.Implies(r.service == other_svc, r.svc == enc.s(enc.u.services[-1])))
    if "path" in enc.used:
        wishes.append(r.path == enc.s(""))
    # A name a principal pattern admits first: "x" may be impossible, and z3 is slow to say so.
    wishes += [
        *(z3.Implies(named, r.name == enc.s(h)) for h in r.name_hints),
        z3.Implies(named, r.name == z3.StringVal("x", c)),
        z3.Implies(r.kind == SESSION, r.session == z3.StringVal("s", c)),
        z3.Implies(named, z3.InRe(r.name, plain)),
    ]
    wishes += [slot.count == 0 for slot in r.slots.values()]
    for wish in wishes:
        attempt(wish, keep=True)
    solver.set("timeout", max(1, int(timeout_s * 1000)))
    return model


_STEER_S = 0.15


def _value(model: z3.ModelRef, expr: z3.ExprRef) -> Any:
    v = model.eval(expr, model_completion=True)
    if z3.is_string_value(v):
        return text_of(v)
    if z3.is_int_value(v):
        return v.as_long()
    if z3.is_rational_value(v):
        frac = Fraction(v.numerator_as_long(), v.denominator_as_long())
        return int(frac) if frac.denominator == 1 else float(frac)
    if z3.is_true(v) or z3.is_false(v):
        return z3.is_true(v)
    return str(v)


def _witness(
    enc: Encoder, model: z3.ModelRef, allowed: list[z3.BoolRef], sides: Sequence[Side]
) -> Witness:
    r, u = enc.req, enc.u
    kind = _value(model, r.kind)
    # A variable the query never mentions is any value: the listed sample stands for it.
    used = enc.used
    account = _value(model, r.acct) if "acct" in used else u.accounts[_value(model, r.account)]
    service = _value(model, r.svc) if "svc" in used else u.services[_value(model, r.service)]
    path = _value(model, r.path) if "path" in used else ""
    name, session = _value(model, r.name), _value(model, r.session)
    full = name if kind == SESSION else path + name
    principal = sample_principal(kind, account, full, session, service)
    action = u.actions[_value(model, r.action)]
    context: dict[str, Any] = {}
    if kind == SERVICE and _value(model, r.source):
        context["aws:SourceAccount"] = account
    if "aws:principalarn" in enc.keys_seen:
        if kind == SESSION and path:
            # The session ARN does not show its role's path; aws:PrincipalArn does.
            context["aws:PrincipalArn"] = f"arn:aws:iam::{account}:role/{path}{name}"
        if kind == SERVICE and not _value(model, r.svc_arn):
            context["aws:PrincipalArn"] = None  # absent from this service's request
    for key, slot in r.slots.items():
        if key in CLOCK_KEYS:
            now = _value(model, r.now)
            context["aws:CurrentTime"] = datetime.fromtimestamp(now, UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
            context["aws:EpochTime"] = now
            continue
        n = _value(model, slot.count)
        if not n:
            continue
        vals = [_render(slot.family, _value(model, v)) for v in slot.values[:n]]
        context[slot.name] = vals if slot.multi else vals[0]
    assumed = _value(model, r.identity_allows) and kind != ROOT
    decisions = _decide(principal, action, u.key_arn, context, sides, assumed)
    decided = tuple(d.allowed for d in decisions)
    if assumed and decided == _recheck(principal, action, u.key_arn, context, sides, False):
        assumed = False  # the assumption changed nothing: do not claim it
    why = next((d.detail or d.reason for d in reversed(decisions) if d.allowed), "")
    return Witness(principal, action, u.key_arn, context, bool(assumed), decided, why=why)


def _render(family: str, v: Any) -> Any:
    if family == "ip":
        return str(ipaddress.IPv4Address(v))
    return v


def _identity_for(principal: str, side: Side) -> Sequence[Policy] | None:
    if principal in side.identities:
        return side.identities[principal]
    if ":assumed-role/" in principal:
        acct = account_of(principal)
        role = principal.split("/")[1]
        for arn, docs in side.identities.items():
            if arn.startswith(f"arn:aws:iam::{acct}:role/") and arn.rsplit("/", 1)[-1] == role:
                return docs
    return None


def assumed_identity_policy(action: str, resource: str) -> dict[str, Any]:
    """The identity policy a witness assumes the principal's own account gives it."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
    }


def _recheck(
    principal: str,
    action: str,
    resource: str,
    context: Mapping[str, Any],
    sides: Sequence[Side],
    assumed: bool,
) -> tuple[bool, ...]:
    return tuple(d.allowed for d in _decide(principal, action, resource, context, sides, assumed))


def _decide(
    principal: str,
    action: str,
    resource: str,
    context: Mapping[str, Any],
    sides: Sequence[Side],
    assumed: bool,
) -> list[Decision]:
    out = []
    for side in sides:
        known = _identity_for(principal, side)
        acct = account_of(principal) or ""
        ids: Sequence[PolicyLike]
        if known is not None:
            ids = list(known)
        elif assumed and acct not in side.closed_accounts:
            ids = [assumed_identity_policy(action, resource)]
        else:
            ids = []
        decision = evaluate(
            principal,
            action,
            resource,
            identity_policies=ids,
            resource_policy=side.key_policy,
            context=context,
            rcps=side.rcps,
        )
        out.append(decision)
    return out


def _widen(
    w: Witness, sides: Sequence[Side], expect: Callable[[tuple[bool, ...]], bool]
) -> Witness:
    """Every action of the same principal and context that breaks the property too."""
    universe_actions = kms_actions(None, [s.key_policy for s in sides])
    hits = tuple(
        a
        for a in universe_actions
        if a == w.action
        or expect(_recheck(w.principal, a, w.resource, w.context, sides, w.identity_assumed))
    )
    return Witness(
        w.principal, w.action, w.resource, w.context, w.identity_assumed, w.allowed, hits, w.why
    )


def _block_kind(enc: Encoder, model: z3.ModelRef) -> z3.BoolRef:
    """Next: a different kind of principal, account or service."""
    r = enc.req
    same = [r.kind == model.eval(r.kind), r.account == model.eval(r.account)]
    if _value(model, r.kind) == SERVICE:
        same = [r.kind == SERVICE, r.service == model.eval(r.service)]
    return z3.Not(z3.And(*same))


def _outside(enc: Encoder, accounts: Iterable[str], orgs: Iterable[str]) -> z3.BoolRef:
    """The principal (or the resource owner a service acts for) is outside the trusted ones."""
    r = enc.req
    trusted = enc.any_of(enc.account_is(a) for a in accounts)
    org_slot = enc.req.slots.get("aws:principalorgid")
    src_org = enc.req.slots.get("aws:sourceorgid")
    org_terms: list[z3.BoolRef] = []
    for slot in (org_slot, src_org):
        if slot is None:
            continue
        for o in orgs:
            org_terms.append(z3.And(slot.count > 0, slot.values[0] == z3.StringVal(o, enc.ctx)))
    in_org = enc.any_of(org_terms)
    service_trusted = z3.And(r.kind == SERVICE, r.source, trusted)
    person_trusted = z3.And(r.kind != SERVICE, trusted)
    return z3.Not(enc.any_of([service_trusted, person_trusted, in_org]))


# -- the questions ---------------------------------------------------------------------------


def no_new_access(
    old: PolicyLike,
    new: PolicyLike,
    *,
    key: Key | None = None,
    actions: Sequence[str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    limit: int = 1,
    request_time: RequestTime = None,
) -> Verdict:
    """pass when `new` allows no request that `old` denies; else the new requests (up to limit)."""
    o, n = _resource_policy(old), _resource_policy(new)

    def ask(k: Key) -> Verdict:
        q = _Query("no_new_access", k, [Side(o), Side(n)], actions, timeout_s, when=request_time)
        return _run(
            q,
            lambda _e, a: z3.And(a[1], z3.Not(a[0])),
            lambda d: d == (False, True),
            _block_kind if limit > 1 else None,
            limit,
        )

    return _for_each_key("no_new_access", key, [o, n], ask)


def no_public_access(
    policy: PolicyLike,
    trusted_accounts: Sequence[str],
    trusted_orgs: Sequence[str] = (),
    *,
    key: Key | None = None,
    actions: Sequence[str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    limit: int = 1,
    request_time: RequestTime = None,
) -> Verdict:
    """pass when only principals of the trusted accounts/organizations are allowed.

    Without `key`, the first trusted account owns the key; with none trusted either, the key's
    account is unknown and the property must hold whichever account owns it.
    """
    p = _resource_policy(policy)
    if key is None and trusted_accounts:
        key = Key.in_account(trusted_accounts[0])

    def ask(k: Key) -> Verdict:
        if _names_only_inside(p, {k.account, *trusted_accounts}, set(), actions=actions):
            return Verdict(
                "no_public_access", "pass", reason="every Allow names trusted accounts only"
            )
        q = _Query(
            "no_public_access",
            k,
            [Side(p)],
            actions,
            timeout_s,
            list(trusted_accounts),
            request_time,
        )
        accounts = [k.account, *trusted_accounts]
        return _run(
            q,
            lambda e, a: z3.And(a[0], _outside(e, accounts, trusted_orgs)),
            lambda d: d == (True,),
            _block_kind if limit > 1 else None,
            limit,
        )

    return _for_each_key("no_public_access", key, [p], ask)


def access_not_granted(
    policy: PolicyLike,
    actions: Sequence[str],
    allowed_principals: Sequence[str],
    *,
    identities: Mapping[str, Sequence[PolicyLike]] | None = None,
    closed_accounts: Sequence[str] = (),
    rcps: Sequence[PolicyLike] = (),
    key: Key | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    limit: int = 1,
    request_time: RequestTime = None,
) -> Verdict:
    """pass when no principal outside `allowed_principals` may perform one of `actions`.

    `identities` are the identity policies of principals we know; `closed_accounts` are
    accounts whose every identity policy is in `identities` (nobody else there is allowed by
    IAM); any other principal is assumed allowed by its own IAM policies. `rcps` are the
    organization's resource control policies over the key, one document per level.
    """
    p = _resource_policy(policy)
    ids = {
        arn: [d if isinstance(d, Policy) else parse_policy(d, kind="identity") for d in docs]
        for arn, docs in (identities or {}).items()
    }
    org = tuple(d if isinstance(d, Policy) else parse_policy(d, kind="resource") for d in rcps)
    side = Side(p, ids, frozenset(closed_accounts), org)
    roots = {a for a in closed_accounts if f"arn:aws:iam::{a}:root" in allowed_principals}
    if not ids and _names_only_inside(
        p, roots, set(allowed_principals), whole_accounts=False, actions=actions
    ):
        return Verdict("access_not_granted", "pass", reason="every Allow names allowed ones only")

    def goal(e: Encoder, a: list[z3.BoolRef]) -> z3.BoolRef:
        return z3.And(a[0], z3.Not(e.any_of(e.principal_is(x) for x in allowed_principals)))

    def ask(k: Key) -> Verdict:
        q = _Query(
            "access_not_granted",
            k,
            [side],
            actions,
            timeout_s,
            list(allowed_principals),
            request_time,
        )
        return _run(q, goal, lambda d: d == (True,), _block_kind if limit > 1 else None, limit)

    return _for_each_key("access_not_granted", key, [p], ask)


def equivalent(
    a: PolicyLike,
    b: PolicyLike,
    *,
    key: Key | None = None,
    actions: Sequence[str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    request_time: RequestTime = None,
) -> Verdict:
    """pass when `a` and `b` allow exactly the same requests; else one they decide differently."""
    pa, pb = _resource_policy(a), _resource_policy(b)

    def ask(k: Key) -> Verdict:
        q = _Query("equivalent", k, [Side(pa), Side(pb)], actions, timeout_s, when=request_time)
        return _run(q, lambda _e, s: s[0] != s[1], lambda d: d[0] != d[1])

    return _for_each_key("equivalent", key, [pa, pb], ask)


def _names_only_inside(
    policy: Policy,
    accounts: set[str],
    principals: set[str],
    *,
    whole_accounts: bool = True,
    actions: Sequence[str] | None = None,
) -> bool:
    """No Allow statement can name anyone outside: no wildcard, NotPrincipal or other account
    (with `whole_accounts`, any principal of `accounts` is inside; else only those listed).

    Conditions and Deny statements only narrow, so this alone proves the property, without the
    solver (the common case of a stack's own key policies, checked on every preview). With
    `actions`, an Allow that matches none of them grants nothing the question asks about (an
    administrators' statement, when the question is kms:Decrypt), so whom it names is moot.
    """
    asked = [a.lower() for a in kms_actions(actions, [policy])] if actions else None
    for st in policy.statements:
        spec = st.principal
        if st.is_deny:
            continue
        if asked is not None and not any(st.action_matches(a) for a in asked):
            continue
        if spec is None or st.not_principal or spec.everyone:
            return False
        if not spec.accounts <= accounts:
            return False
        for arn in spec.arns:
            inside = whole_accounts and account_of(arn) in accounts
            if arn not in principals and not inside:
                return False
        if not spec.others <= principals:
            return False
    return True


def unknown_key_accounts(*policies: Policy) -> list[str] | None:
    """The accounts to ask about when the key's account is unknown: every account the policies
    name, then one they do not (standing for all others); None when they name too many."""
    named = sorted({a for pol in policies for a in named_accounts(pol.source)})
    if len(named) >= MAX_KEY_ACCOUNTS:
        return None
    return [*named, spare_account(named)]


def spare_account(taken: Sequence[str]) -> str:
    """An account none of `taken` is: it stands for every account a policy does not name."""
    avoid = set(taken)
    spare = (str(999999999990 - i) for i in range(len(avoid) + 1))
    return next(a for a in spare if a not in avoid)


def _for_each_key(
    question: str, key: Key | None, policies: Sequence[Policy], ask: Callable[[Key], Verdict]
) -> Verdict:
    """`ask` about `key`; without one, about a key in each account that may own it: the first
    failure is the answer (it breaks the property for that owner), else the first unknown."""
    if key is not None:
        return ask(key)
    accounts = unknown_key_accounts(*policies)
    if accounts is None:
        return Verdict(
            question,
            "unknown",
            reason=(
                f"the key's account is unknown and the policies name {MAX_KEY_ACCOUNTS} or more "
                "accounts that may own it; give the key (its ARN or account)"
            ),
        )
    unsure: Verdict | None = None
    verdict: Verdict | None = None
    for account in accounts:
        verdict = ask(Key.in_account(account))
        if verdict.status == "fail":
            return verdict
        if verdict.status == "unknown" and unsure is None:
            unsure = verdict
    assert verdict is not None
    return unsure or verdict


def kind_label(principal: str) -> str:
    if principal.endswith(":root"):
        return KINDS[ROOT]
    if ":assumed-role/" in principal:
        return KINDS[SESSION]
    arn = parse_arn(principal)
    return arn.resource_type if arn is not None else "service"


def _show(v: Any) -> str:
    if v is None:
        return "(absent)"
    return ",".join(str(x) for x in v) if isinstance(v, list) else str(v)
