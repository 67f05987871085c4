"""A z3 model as a concrete request: the witness, re-checked by the evaluator on every side."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import z3

from kmsguard.access.arn import account_of, iam_identity, parse_arn, session_role
from kmsguard.access.evaluate import Decision, PolicyLike, evaluate
from kmsguard.access.policy import Policy
from kmsguard.access.prove.alphabet import text_of
from kmsguard.access.prove.authorizer import Encoder
from kmsguard.access.prove.universe import (
    CLOCK_KEYS,
    ROOT,
    SERVICE,
    SESSION,
    Side,
    kms_actions,
    sample_principal,
)
from kmsguard.access.prove.verdict import Witness


def model_value(model: z3.ModelRef, expr: z3.ExprRef) -> Any:
    """A model's value for `expr` as Python: text, int, a number, a bool."""
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


def principal_and_context(enc: Encoder, model: z3.ModelRef) -> tuple[int, str, dict[str, Any]]:
    """(principal kind, principal, request context) as the model has them."""
    r, u = enc.req, enc.u
    kind = model_value(model, r.kind)
    # A variable the query never mentions is any value: the listed sample stands for it.
    used = enc.used
    account = (
        model_value(model, r.acct) if "acct" in used else u.accounts[model_value(model, r.account)]
    )
    service = (
        model_value(model, r.svc) if "svc" in used else u.services[model_value(model, r.service)]
    )
    path = model_value(model, r.path) if "path" in used else ""
    name, session = model_value(model, r.name), model_value(model, r.session)
    full = name if kind == SESSION else path + name
    principal = sample_principal(kind, account, full, session, service)
    context: dict[str, Any] = {}
    if kind == SERVICE and model_value(model, r.source):
        context["aws:SourceAccount"] = account
    if "aws:principalarn" in enc.keys_seen:
        if kind == SESSION and path:
            # The session ARN does not show its role's path; aws:PrincipalArn does.
            context["aws:PrincipalArn"] = f"arn:aws:iam::{account}:role/{path}{name}"
        if kind == SERVICE and not model_value(model, r.svc_arn):
            context["aws:PrincipalArn"] = None  # absent from this service's request
    for key, slot in r.slots.items():
        if key in CLOCK_KEYS:
            now = model_value(model, r.now)
            context["aws:CurrentTime"] = datetime.fromtimestamp(now, UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
            context["aws:EpochTime"] = now
            continue
        n = model_value(model, slot.count)
        if not n:
            continue
        vals = [render_value(slot.family, model_value(model, v)) for v in slot.values[:n]]
        context[slot.name] = vals if slot.multi else vals[0]
    return kind, principal, context


def witness_of(
    enc: Encoder, model: z3.ModelRef, allowed: list[z3.BoolRef], sides: Sequence[Side]
) -> Witness:
    """The model as a concrete request, decided by the evaluator on every side."""
    r, u = enc.req, enc.u
    kind, principal, context = principal_and_context(enc, model)
    action = u.actions[model_value(model, r.action)]
    assumed = model_value(model, r.identity_allows) and kind != ROOT
    decisions = _decide(principal, action, u.key_arn, context, sides, assumed)
    decided = tuple(d.allowed for d in decisions)
    if assumed and decided == _recheck(principal, action, u.key_arn, context, sides, False):
        assumed = False  # the assumption changed nothing: do not claim it
    why = next((d.detail or d.reason for d in reversed(decisions) if d.allowed), "")
    return Witness(principal, action, u.key_arn, context, bool(assumed), decided, why=why)


def render_value(family: str, v: Any) -> Any:
    """A slot's value as a policy writes it (an IPv4 address as dotted text)."""
    if family == "ip":
        return str(ipaddress.IPv4Address(v))
    return v


def _identity_for(principal: str, side: Side) -> Sequence[Policy] | None:
    if principal in side.identities:
        return side.identities[principal]
    # A session acts with its role's policies; the role may have a path the session omits.
    session = parse_arn(principal)
    wanted = iam_identity(session_role(principal))
    if session is None or wanted is None:
        return None
    for arn, docs in side.identities.items():
        role = parse_arn(arn)
        if role is not None and role.partition == session.partition and iam_identity(arn) == wanted:
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


def widen(w: Witness, sides: Sequence[Side], expect: Callable[[tuple[bool, ...]], bool]) -> Witness:
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
