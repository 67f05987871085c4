"""Who can read a table's items: every read path, DynamoDB's side and the key's, in one proof."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import z3

from kmsguard.access.arn import account_of, is_account_id
from kmsguard.access.dynamodb_reads import ReadPath
from kmsguard.access.errors import PolicyDocumentError
from kmsguard.access.evaluate import PolicyLike
from kmsguard.access.grants import Grant
from kmsguard.access.policy import Policy
from kmsguard.access.prove.authorizer import Encoder
from kmsguard.access.prove.readers_model import Model
from kmsguard.access.prove.readers_request import pin_decrypt_keys, recheck, request_of
from kmsguard.access.prove.readers_setup import DECRYPT, Setup, build_setup
from kmsguard.access.prove.request import constants
from kmsguard.access.prove.search import DEFAULT_TIMEOUT_S, RequestTime, block_kind, steer
from kmsguard.access.prove.universe import Side, Unsupported, make_universe

__all__ = ["ReaderWitness", "ReadersVerdict", "readers"]

Status = Literal["pass", "fail", "unknown"]
# Candidates the solver proposes that the evaluator refuses, before the answer is `unknown`:
# each is a gap in the model, so none is reported and none may turn into a pass.
MAX_DISAGREEMENTS = 6


@dataclass(frozen=True)
class ReaderWitness:
    """A principal outside the declared readers, one read request and the decrypt it needs,
    each a `decide` scenario that the evaluator allows."""

    principal: str
    operation: str  # the DynamoDB operation, e.g. "GetItem"
    read: Mapping[str, Any]
    decrypt: Mapping[str, Any] | None  # None: an AWS owned or managed key, nothing to ask
    identity_assumed: bool  # the principal's own account is assumed to allow it
    operations: tuple[str, ...] = ()  # every read path the same principal and context gets
    why: str = ""

    def describe(self) -> str:
        ops = ", ".join(self.operations or (self.operation,))
        where = self.read["resource"]
        text = f"{self.principal} may read {where} ({ops})"
        ctx = {k: v for k, v in (self.read.get("context") or {}).items() if v is not None}
        if ctx:
            text += " with " + ", ".join(f"{k}={v}" for k, v in ctx.items())
        if self.identity_assumed:
            text += " (if its own IAM policies allow it)"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "principal": self.principal,
            "operation": self.operation,
            "operations": list(self.operations or (self.operation,)),
            "identity_policies_assumed": self.identity_assumed,
            "read": _scenario_json(self.read),
            "decrypt": None if self.decrypt is None else _scenario_json(self.decrypt),
            "why": self.why,
        }


@dataclass(frozen=True)
class ReadersVerdict:
    """pass: the readers are the declared ones; fail: `witnesses` read too; unknown: `reason`."""

    status: Status
    witnesses: tuple[ReaderWitness, ...] = ()
    reason: str = ""
    complete: bool = True
    missing: tuple[str, ...] = ()  # declared principals no read path lets in (informational)
    question: str = field(default="readers")

    @property
    def witness(self) -> ReaderWitness | None:
        return self.witnesses[0] if self.witnesses else None

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "status": self.status,
            "reason": self.reason,
            "witnesses": [w.to_json() for w in self.witnesses],
            "complete": self.complete,
            "missing": list(self.missing),
        }


def readers(
    table_arn: str,
    *,
    key_policy: PolicyLike | None,
    key_arn: str | None = None,
    table_policy: PolicyLike | None = None,
    stream_arn: str | None = None,
    stream_policy: PolicyLike | None = None,
    indexes: Sequence[str] = (),
    identities: Mapping[str, Sequence[PolicyLike]] | None = None,
    closed_accounts: Sequence[str] = (),
    boundaries: Mapping[str, PolicyLike] | None = None,
    scps: Sequence[PolicyLike] = (),
    scp_accounts: Sequence[str] | None = None,
    rcps: Sequence[PolicyLike] = (),
    grants: Sequence[Mapping[str, Any] | Grant] = (),
    declared: Sequence[str] = (),
    trusted_accounts: Sequence[str] = (),
    trusted_orgs: Sequence[str] = (),
    timeout_s: float = DEFAULT_TIMEOUT_S,
    limit: int = 1,
    request_time: RequestTime = None,
    paths: Sequence[ReadPath] = (),
    find_missing: bool = True,
) -> ReadersVerdict:
    """pass when nobody outside `declared` (principal ARNs; a role covers its sessions),
    `trusted_accounts` and `trusted_orgs` can read the table's items by any read path.

    `key_policy` is the table's customer managed key's policy (`key_arn` its ARN, default a key
    of the table's account), None for an AWS owned or AWS managed key. `stream_arn` and
    `stream_policy` describe the table's stream (omit both without one); `indexes` are the
    names of its indexes. `identities` are the identity policies of the principals we know;
    `closed_accounts` those accounts whose every identity policy is in `identities`; anyone
    else is assumed allowed by its own IAM policies. `boundaries` maps a principal ARN to its
    permissions boundary; `scps` bind the principals of `scp_accounts` (default: the table's
    account), `rcps` the table and the key; `grants` are the key's grants in ListGrants shape.
    `paths` narrows or widens the question (default: every path of READ_PATHS that returns
    items). With `find_missing`, the declared principals no path lets in are listed (the
    evaluator asked for each). Raises PolicyDocumentError (or ValueError) naming the input
    that is wrong.
    """
    setup = build_setup(
        table_arn,
        key_policy,
        key_arn,
        table_policy,
        stream_arn,
        stream_policy,
        indexes,
        identities or {},
        closed_accounts,
        boundaries or {},
        scps,
        scp_accounts,
        rcps,
        grants,
        declared,
        trusted_accounts,
        trusted_orgs,
        paths,
    )
    if setup.only_declared_reach():
        verdict = ReadersVerdict(
            "pass", reason="no undeclared principal's policy reaches the table"
        )
    else:
        verdict = _solve(setup, timeout_s, max(1, limit), request_time)
    missing = tuple(
        p for p in setup.declared if find_missing and not _reads(setup, p, request_time)
    )
    return ReadersVerdict(
        verdict.status, verdict.witnesses, verdict.reason, verdict.complete, missing
    )


def _window(when: RequestTime) -> tuple[int, int]:
    if when is None:
        now = int(datetime.now(UTC).timestamp())
        return now, now
    first, last = when if isinstance(when, tuple) else (when, when)
    lo, hi = (int((t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()) for t in (first, last))
    if lo > hi:
        raise ValueError(f"request time window ends before it starts ({first} > {last})")
    return lo, hi


def _solve(setup: Setup, timeout_s: float, limit: int, when: RequestTime) -> ReadersVerdict:
    extra = [
        setup.table_arn,
        *setup.declared,
        *setup.trusted_accounts,
        *(g.grantee for g in setup.grants),
        *setup.identities,
        *setup.boundaries,
    ]
    policies = setup.all_policies()
    try:
        universe = make_universe(setup.key_arn, policies, [DECRYPT], extra, _window(when))
        ctx = z3.Context()
        enc = Encoder(universe, [Side(p) for p in policies], ctx)
        model = Model(enc, setup)
        any_read, rows = model.any_read()
        target = z3.And(any_read, z3.Not(model.declared()), *pin_decrypt_keys(enc, setup))
        enc.used = constants(target, enc.req.lazy)
        lazy = [f for name, fs in enc.req.lazy.items() if name in enc.used for f in fs]
        solver = z3.Solver(ctx=ctx)
        solver.set("phase_selection", 0)
        solver.set("timeout", max(1, int(timeout_s * 1000)))
        solver.add(*enc.req.facts, *lazy, target)
    except Unsupported as exc:
        return ReadersVerdict("unknown", reason=f"not modelled: {exc}")
    except z3.Z3Exception as exc:
        return ReadersVerdict("unknown", reason=f"not modelled: the solver refused it ({exc})")
    found: list[ReaderWitness] = []
    refused = 0
    while len(found) < limit:
        result = solver.check()
        if result == z3.unknown:
            # Readers already confirmed are a definite answer; only their completeness is not.
            return ReadersVerdict(
                "fail" if found else "unknown",
                tuple(found),
                reason=f"the solver gave up after {timeout_s:g} s ({solver.reason_unknown()})",
                complete=False,
            )
        if result == z3.unsat:
            break
        m = steer(solver, enc, [any_read], timeout_s)
        w = _confirm(enc, m, rows, setup)
        if w is None:
            refused += 1
            if refused >= MAX_DISAGREEMENTS:
                break
            solver.add(_block_exact(enc, m))
            continue
        found.append(w)
        solver.add(block_kind(enc, m))
    if found:
        return ReadersVerdict("fail", tuple(found), complete=len(found) < limit)
    if refused:
        return ReadersVerdict(
            "unknown",
            reason=(
                f"the evaluator refused {refused} candidate reader(s) the prover's model "
                "proposed, so the model is too coarse here to prove there are no others"
            ),
        )
    return ReadersVerdict("pass")


def _confirm(
    enc: Encoder,
    m: z3.ModelRef,
    rows: Sequence[tuple[ReadPath, str, Policy | None, z3.BoolRef]],
    setup: Setup,
) -> ReaderWitness | None:
    """The model's principal and context, re-checked by `decide` on every path the model
    says it reads by; None when the evaluator allows none of them."""
    principal, context, assumed = request_of(enc, m, setup)
    hits: list[tuple[ReadPath, dict[str, Any], dict[str, Any] | None, str]] = []
    for path, resource, pol, formula in rows:
        if not z3.is_true(m.eval(formula, model_completion=True)):
            continue
        got = recheck(setup, path, resource, pol, principal, context, assumed)
        if got is not None:
            hits.append((path, *got))
    if not hits:
        return None
    path, read, decrypt, why = hits[0]
    ops = tuple(dict.fromkeys(h[0].operation for h in hits))
    return ReaderWitness(principal, path.operation, read, decrypt, assumed, ops, why)


def _block_exact(enc: Encoder, m: z3.ModelRef) -> z3.BoolRef:
    """Not this principal with this context again."""
    r = enc.req
    names = [r.kind, r.account, r.name, r.path, r.session, r.service, r.identity_allows]
    if "acct" in enc.used:
        names.append(r.acct)
    if "svc" in enc.used:
        names.append(r.svc)
    for slot in r.slots.values():
        names += [slot.count, *slot.values]
    return z3.Not(z3.And(*(v == m.eval(v, model_completion=True) for v in names)))


def _reads(setup: Setup, principal: str, when: RequestTime) -> bool:
    """Whether a declared principal reads by some path, as the evaluator decides it with no
    optional context; an account id, or anything the evaluator cannot take, is skipped."""
    if is_account_id(principal) or account_of(principal) is None:
        return True
    assumed = account_of(principal) not in setup.closed_accounts
    ctx: dict[str, Any] = {}
    if when is not None:
        t = when[0] if isinstance(when, tuple) else when
        t = t if t.tzinfo else t.replace(tzinfo=UTC)
        ctx = {
            "aws:CurrentTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:EpochTime": int(t.timestamp()),
        }
    try:
        for path in setup.read_paths:
            for resource, pol in setup.resources(path):
                if recheck(setup, path, resource, pol, principal, ctx, assumed) is not None:
                    return True
    except PolicyDocumentError:
        return True
    return False


def _scenario_json(s: Mapping[str, Any]) -> dict[str, Any]:
    def doc(v: Any) -> Any:
        if isinstance(v, Policy):
            return v.document
        if isinstance(v, Grant):
            return v.to_json()
        if isinstance(v, list | tuple):
            return [doc(x) for x in v]
        return v

    return {k: doc(v) for k, v in s.items()}
