"""The search: solve a question's formula, steer the model to a readable witness, find more."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import z3

from kmsguard.access.prove.authorizer import Encoder
from kmsguard.access.prove.concretize import model_value, widen, witness_of
from kmsguard.access.prove.request import constants
from kmsguard.access.prove.universe import (
    ROOT,
    SERVICE,
    SESSION,
    Key,
    Side,
    Unsupported,
    make_universe,
)
from kmsguard.access.prove.verdict import Verdict, Witness, WitnessNotConfirmed

DEFAULT_TIMEOUT_S = 10.0
# When a request may be made: one time, or a window (first, last); None is now.
RequestTime = datetime | tuple[datetime, datetime] | None


@dataclass
class Query:
    """One question asked of one key: its sides, the actions, the names to add, the time."""

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


def solve(
    q: Query,
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
        model = steer(solver, enc, allowed, q.timeout_s)
        w = witness_of(enc, model, allowed, q.sides)
        predicted = tuple(z3.is_true(model.eval(a, model_completion=True)) for a in allowed)
        if w.allowed != predicted or not expect(w.allowed):
            raise WitnessNotConfirmed(f"{q.question}: evaluator disagrees on {w.to_json()}")
        found.append(widen(w, q.sides, expect))
        if block is None:
            break
        solver.add(block(enc, model))
    if not found:
        return Verdict(q.question, "pass")
    complete = block is None or len(found) < limit
    return Verdict(q.question, "fail", tuple(found), complete=complete)


def steer(
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


def block_kind(enc: Encoder, model: z3.ModelRef) -> z3.BoolRef:
    """Next: a different kind of principal, account or service."""
    r = enc.req
    same = [r.kind == model.eval(r.kind), r.account == model.eval(r.account)]
    if model_value(model, r.kind) == SERVICE:
        same = [r.kind == SERVICE, r.service == model.eval(r.service)]
    return z3.Not(z3.And(*same))
