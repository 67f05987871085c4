"""The questions: a verdict each, with a concrete request re-checked by the evaluator."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import z3

from kmsguard.access.arn import account_of, named_accounts
from kmsguard.access.evaluate import PolicyLike
from kmsguard.access.policy import Policy, parse_policy
from kmsguard.access.prove.authorizer import Encoder
from kmsguard.access.prove.search import (
    DEFAULT_TIMEOUT_S,
    Query,
    RequestTime,
    block_kind,
    solve,
)
from kmsguard.access.prove.universe import SERVICE, Key, Side, kms_actions
from kmsguard.access.prove.verdict import Verdict

# Without the key's ARN its account is unknown: every account the policies name may own it, or
# one they do not. Each is asked in turn, so many named accounts would multiply the work.
MAX_KEY_ACCOUNTS = 8


def _resource_policy(doc: PolicyLike) -> Policy:
    return doc if isinstance(doc, Policy) else parse_policy(doc, kind="resource")


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
        q = Query("no_new_access", k, [Side(o), Side(n)], actions, timeout_s, when=request_time)
        return solve(
            q,
            lambda _e, a: z3.And(a[1], z3.Not(a[0])),
            lambda d: d == (False, True),
            block_kind if limit > 1 else None,
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
        q = Query(
            "no_public_access",
            k,
            [Side(p)],
            actions,
            timeout_s,
            list(trusted_accounts),
            request_time,
        )
        accounts = [k.account, *trusted_accounts]
        return solve(
            q,
            lambda e, a: z3.And(a[0], _outside(e, accounts, trusted_orgs)),
            lambda d: d == (True,),
            block_kind if limit > 1 else None,
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
        q = Query(
            "access_not_granted",
            k,
            [side],
            actions,
            timeout_s,
            list(allowed_principals),
            request_time,
        )
        return solve(q, goal, lambda d: d == (True,), block_kind if limit > 1 else None, limit)

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
        q = Query("equivalent", k, [Side(pa), Side(pb)], actions, timeout_s, when=request_time)
        return solve(q, lambda _e, s: s[0] != s[1], lambda d: d[0] != d[1])

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
