"""Condition clauses as z3 formulas, mirroring the evaluator's `kmsguard.access.conditions`."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import z3

from kmsguard.access.conditions import (
    as_bool,
    as_epoch,
    as_number,
    as_text,
    compile_operator,
    positive,
)
from kmsguard.access.evaluate import build_context
from kmsguard.access.policy import ConditionClause
from kmsguard.access.prove.principal_arn import PrincipalArns
from kmsguard.access.prove.request import Slot
from kmsguard.access.prove.universe import (
    ACCOUNT_KEYS,
    FINITE_KEYS,
    KINDS,
    SERVICE,
    USER,
    Unsupported,
    sample_principal,
)

_COMPARE: dict[str, Callable[[Any, Any], z3.BoolRef]] = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


class Conditions(PrincipalArns):
    """A clause holds of the symbolic request, read as the evaluator reads it."""

    def clause(self, cl: ConditionClause) -> z3.BoolRef:
        """A condition clause holds of the request, qualifier, IfExists and negation included."""
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
            return [(present, self.principal_arn_test(cl, base))]
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
        return self.f() if text is None else self.text_test(x, text, pos)

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
