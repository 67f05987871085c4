"""AWS policy evaluation for one request: KMS key-policy rules or the standard resource rule."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from kmsguard.access.errors import PolicyDocumentError
from kmsguard.access.matching import PrincipalInfo, ResourceInfo, principal_info, resource_info
from kmsguard.access.policy import (
    ACCOUNT_MATCH,
    NO_MATCH,
    Policy,
    PolicyKind,
    Statement,
    parse_policy,
)

ALLOW = "allow"
IMPLICIT_DENY = "implicit_deny"
EXPLICIT_DENY = "explicit_deny"
EFFECTS = (ALLOW, IMPLICIT_DENY, EXPLICIT_DENY)

PolicyLike = Policy | Mapping[str, Any] | str | bytes
_ID_LABELS = tuple(f"identity[{i}]" for i in range(64))
_SCENARIO_KEYS = (
    "principal",
    "action",
    "resource",
    "context",
    "identity_policies",
    "resource_policy",
    "trust_policy",
)
_SCENARIO_EXTRA = ("name", "description", "comment", "expect", "expected")


@dataclass(frozen=True, slots=True)
class StatementRef:
    """A statement that decided a request: which policy, its Sid, its index, its Effect."""

    policy: str  # "resource", "trust" or "identity[<i>]"
    sid: str | None
    index: int
    effect: str

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "sid": self.sid, "index": self.index, "effect": self.effect}

    def label(self) -> str:
        if self.policy in ("resource", "trust"):
            return f"statement {self.sid!r}" if self.sid else f"statement {self.index}"
        sid = f" ({self.sid!r})" if self.sid else ""
        return f"{self.policy} statement {self.index}{sid}"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one request with AWS's reason and the statements that decided it."""

    effect: str
    reason: str
    statements: tuple[StatementRef, ...] = ()
    detail: str = ""
    principal: str = field(default="", compare=False)
    action: str = field(default="", compare=False)
    resource: str = field(default="", compare=False)

    @property
    def allowed(self) -> bool:
        return self.effect == ALLOW

    def to_json(self) -> dict[str, Any]:
        return {
            "effect": self.effect,
            "reason": self.reason,
            "statements": [s.to_json() for s in self.statements],
        }

    def message(
        self, principal: str | None = None, action: str | None = None, resource: str | None = None
    ) -> str:
        """AWS's full sentence, as in an AccessDeniedException."""
        p = principal or self.principal
        a = action or self.action
        r = resource or self.resource
        if self.effect == ALLOW:
            return f"User: {p} is authorized to perform: {a} on resource: {r}"
        glue = " " if self.effect == EXPLICIT_DENY else " because "
        return f"User: {p} is not authorized to perform: {a} on resource: {r}{glue}{self.reason}"


def _as_policy(doc: Any, kind: PolicyKind, label: str) -> Policy:
    if isinstance(doc, Policy) and doc.kind == kind:
        return doc
    try:
        return parse_policy(doc, kind=kind)
    except PolicyDocumentError as exc:
        raise exc.within(label) from None


_CONTEXT_SCALARS = (str, bool, int, float, datetime)


@lru_cache(maxsize=4096)
def _base_context(principal: str, resource: str) -> tuple[tuple[str, Any], ...]:
    info = principal_info(principal)
    rinfo = resource_info(resource)
    ctx: dict[str, Any] = {}
    if info.kind == "assumed-role" and info.role_key is not None:
        # AWS sets aws:PrincipalArn to the role's ARN for a role session.
        ctx["aws:principalarn"] = (
            f"arn:{info.partition}:iam::{info.role_key[0]}:role/{info.role_key[1]}"
        )
    else:
        ctx["aws:principalarn"] = info.arn
    if info.account is not None:
        ctx["aws:principalaccount"] = info.account
        ctx["kms:calleraccount"] = info.account
    if info.kind == "user" and info.name is not None:
        ctx["aws:username"] = info.name
    ptype = {
        "root": "Account",
        "user": "User",
        "assumed-role": "AssumedRole",
        "role": "AssumedRole",
        "federated-user": "FederatedUser",
    }.get(info.kind)
    if ptype is not None:
        ctx["aws:principaltype"] = ptype
    ctx["aws:principalisawsservice"] = info.kind == "service"
    if rinfo.account is not None:
        ctx["aws:resourceaccount"] = rinfo.account
    return tuple(ctx.items())


def build_context(
    principal: str, resource: str, context: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The request context with lower-cased keys: derived defaults, then the caller's values."""
    ctx = dict(_base_context(principal, resource))
    if context:
        if not isinstance(context, Mapping):
            raise PolicyDocumentError("context", "must be an object of condition keys to values")
        for key, value in context.items():
            if key.__class__ is str and value.__class__ is str:
                ctx[key.lower()] = value
                continue
            if not isinstance(key, str):
                raise PolicyDocumentError("context", "condition keys must be strings")
            if isinstance(value, list | tuple):
                if not all(isinstance(v, _CONTEXT_SCALARS) for v in value):
                    raise PolicyDocumentError(
                        f"context.{key}", "values must be strings, numbers or booleans"
                    )
                value = list(value)
            elif value is not None and not isinstance(value, _CONTEXT_SCALARS):
                raise PolicyDocumentError(
                    f"context.{key}", "must be a string, number, boolean or a list of them"
                )
            ctx[key.lower()] = value
    return ctx


_REQUEST_ACTION = re.compile(r"^[A-Za-z0-9-]+:[A-Za-z0-9]+$")
_REQUEST_PRINCIPAL = re.compile(
    r"^(arn:[\w-]+:[\w-]+:[^:]*:\d{12}:.+|[a-z0-9.-]+\.amazonaws\.com)$"
)


@lru_cache(maxsize=4096)
def _well_formed(principal: str, action: str) -> bool:
    # Cached: the sandbox and the pack ask about the same few callers and actions again and again.
    return bool(_REQUEST_ACTION.match(action) and _REQUEST_PRINCIPAL.match(principal))


def _check_request(principal: Any, action: Any, resource: Any) -> None:
    for name, value in (("principal", principal), ("action", action), ("resource", resource)):
        if not isinstance(value, str) or not value:
            raise PolicyDocumentError(name, "must be a non-empty string")
    # A request names one concrete action and one caller; a pattern here would be a silent guess.
    if not _REQUEST_ACTION.match(action):
        raise PolicyDocumentError(
            "action", f"{action!r} is not an action; allowed: service:Action, e.g. kms:Decrypt"
        )
    if not _REQUEST_PRINCIPAL.match(principal):
        raise PolicyDocumentError(
            "principal",
            f"{principal!r} is not a principal; allowed: an ARN with a 12-digit account "
            "(arn:aws:iam::<account>:user/<name>, :role/<name>, :root, "
            "arn:aws:sts::<account>:assumed-role/<role>/<session>) or a service principal "
            "(<service>.amazonaws.com)",
        )


def evaluate(
    principal: str,
    action: str,
    resource: str,
    *,
    identity_policies: Sequence[PolicyLike],
    resource_policy: PolicyLike | None,
    context: Mapping[str, Any] | None = None,
    trust_policy: PolicyLike | None = None,
) -> Decision:
    """Decide one request with AWS's evaluation logic.

    `trust_policy` is the trust policy of the role named by `resource`: it is the role's
    resource-based policy for the `sts:` actions (AssumeRole, TagSession, ...).
    """
    if not (
        principal.__class__ is action.__class__ is resource.__class__ is str
        and resource
        and _well_formed(principal, action)
    ):
        _check_request(principal, action, resource)
    if isinstance(identity_policies, str | bytes | Mapping):
        raise PolicyDocumentError("identity_policies", "must be a list of policy documents")
    ids = [
        p
        if p.__class__ is Policy and p.kind == "identity"
        else _as_policy(p, "identity", _label(i))
        for i, p in enumerate(identity_policies)
    ]
    res: Policy | None
    if resource_policy is None:
        res = None
    elif resource_policy.__class__ is Policy and resource_policy.kind == "resource":
        res = resource_policy
    else:
        res = _as_policy(resource_policy, "resource", "resource")
    res_label = "resource"
    if trust_policy is not None:
        if res is not None:
            raise PolicyDocumentError(
                "trust_policy",
                "a role's resource-based policy is its trust policy; give trust_policy or "
                "resource_policy, not both",
            )
        if not _is_role_arn(resource):
            raise PolicyDocumentError(
                "trust_policy",
                f"a trust policy belongs to a role, but the resource {resource!r} is not a role "
                "ARN (arn:aws:iam::<account>:role/<name>)",
            )
        trust = _as_policy(trust_policy, "trust", "trust")
        if _trust_governs(action):
            res, res_label = trust, "trust"
    ctx = build_context(principal, resource, context)
    return _decide(principal, action, resource, ids, res, ctx, res_label)


def _is_role_arn(resource: str) -> bool:
    parts = resource.split(":", 5)
    return len(parts) == 6 and parts[2] == "iam" and parts[5].startswith("role/")


def _assumes_role(action: str, resource: str) -> bool:
    # Without its trust policy a role cannot be assumed: every role has one, and it must allow.
    return _trust_governs(action) and _is_role_arn(resource)


def _trust_governs(action: str) -> bool:
    """STS actions on a role (AssumeRole*, TagSession, ...) are authorized by its trust policy."""
    return action.lower().startswith("sts:")


def _label(i: int) -> str:
    return _ID_LABELS[i] if i < len(_ID_LABELS) else f"identity[{i}]"


_REFS: dict[tuple[str, Statement], StatementRef] = {}


def _ref(policy: str, st: Statement) -> StatementRef:
    ref = _REFS.get((policy, st))
    if ref is None:
        if len(_REFS) > 16384:
            _REFS.clear()
        ref = _REFS[(policy, st)] = StatementRef(policy, st.sid, st.index, st.effect)
    return ref


def _decide(
    principal: str,
    action: str,
    resource: str,
    ids: Sequence[Policy],
    res: Policy | None,
    ctx: Mapping[str, Any],
    res_label: str = "resource",
) -> Decision:
    info = principal_info(principal)
    rinfo = resource_info(resource)
    al = action.lower()
    denies: list[StatementRef] = []
    id_allows: list[StatementRef] = []
    direct: list[StatementRef] = []
    delegated: list[StatementRef] = []
    # Allow statements that matched all but their Condition: the usual answer to "why denied".
    unmet: list[StatementRef] = []
    for i, pol in enumerate(ids):
        for st in pol.for_action(al):
            if not st.resource_matches(resource, ctx):
                continue
            if st.condition is None or st.condition(ctx):
                (denies if st.is_deny else id_allows).append(_ref(_label(i), st))
            elif not st.is_deny:
                unmet.append(_ref(_label(i), st))
    if res is not None:
        for st in res.for_action(al):
            m = st.principal_match(principal, info)
            if m == NO_MATCH or not st.resource_matches(resource, ctx):
                continue
            if st.condition is not None and not st.condition(ctx):
                if not st.is_deny:
                    unmet.append(_ref(res_label, st))
                continue
            ref = _ref(res_label, st)
            if st.is_deny:
                denies.append(ref)
            elif m == ACCOUNT_MATCH:
                delegated.append(ref)
            else:
                direct.append(ref)
    strict = rinfo.is_kms_key or res_label == "trust" or _assumes_role(action, resource)
    decision = _outcome(
        principal,
        action,
        resource,
        info,
        rinfo,
        denies,
        id_allows,
        direct,
        delegated,
        strict,
        res_label,
    )
    if unmet and decision.effect == IMPLICIT_DENY:
        names = ", ".join(u.label() for u in unmet)
        are = "its Condition is" if len(unmet) == 1 else "their Conditions are"
        decision = replace(
            decision,
            detail=f"{decision.detail}; {names} would allow {action}, but {are} not met by "
            "this request",
        )
    return decision


def _outcome(
    principal: str,
    action: str,
    resource: str,
    info: PrincipalInfo,
    rinfo: ResourceInfo,
    denies: list[StatementRef],
    id_allows: list[StatementRef],
    direct: list[StatementRef],
    delegated: list[StatementRef],
    strict: bool = False,
    res_label: str = "resource",
) -> Decision:
    def make(effect: str, reason: str, refs: Sequence[StatementRef], detail: str) -> Decision:
        return Decision(effect, reason, tuple(refs), detail, principal, action, resource)

    if denies:
        side = (
            "a resource-based" if denies[0].policy in ("resource", "trust") else "an identity-based"
        )
        where = ", ".join(d.label() for d in denies)
        return make(
            EXPLICIT_DENY,
            f"with an explicit deny in {side} policy",
            denies,
            f"denied explicitly by {where}",
        )
    no_identity = f"no identity-based policy allows the {action} action"
    no_resource = f"no resource-based policy allows the {action} action"
    cross = info.account is not None and rinfo.account is not None and info.account != rinfo.account
    res_allows = direct + delegated
    owner = (
        "the role's trust policy"
        if res_label == "trust" or (strict and not rinfo.is_kms_key)
        else "the key policy"
        if rinfo.is_kms_key
        else "the resource-based policy"
    )
    # IAM policies cannot restrict an account's root user: its identity side always allows.
    root = info.kind == "root"
    if strict or cross:
        if not res_allows:
            why = (
                f"identity policy {id_allows[0].label()} allows {action}, but {owner} neither "
                "names the principal nor delegates to its account"
                if id_allows
                else f"{owner} does not allow {action} for this principal"
            )
            return make(IMPLICIT_DENY, no_resource, (), why)
        if cross or not direct:
            if root and not id_allows:
                text = (
                    f"allowed by {owner} {res_allows[0].label()}; the account root user needs "
                    "no identity-based policy"
                )
                return make(ALLOW, text, res_allows[:1], text)
            if not id_allows:
                how = "the principal's account" if delegated and not direct else "the principal"
                why = (
                    f"{owner} allows {how} ({res_allows[0].label()}), but no identity-based "
                    f"policy allows {action}"
                    + (" (cross-account requests need both)" if cross else "")
                )
                return make(IMPLICIT_DENY, no_identity, (), why)
            first = res_allows[0]
            if cross:
                text = (
                    f"allowed cross-account by {owner} {first.label()} together with identity "
                    f"policy {id_allows[0].label()}"
                )
                return make(ALLOW, text, [first, *id_allows], text)
            kind = owner.removeprefix("the ") + "'s"
            text = (
                f"allowed by the {kind} account-root delegation ({first.label()}) together "
                f"with identity policy {id_allows[0].label()}"
            )
            return make(ALLOW, text, [first, *id_allows], text)
        text = f"allowed by {owner} {direct[0].label()}, which names the principal"
        return make(ALLOW, text, direct, text)
    if direct:
        text = f"allowed by {owner} {direct[0].label()}, which names the principal"
        return make(ALLOW, text, direct, text)
    if id_allows:
        text = f"allowed by identity policy {id_allows[0].label()}"
        return make(ALLOW, text, id_allows, text)
    if root:
        text = "allowed: the account root user has every permission in its own account"
        return make(ALLOW, text, (), text)
    why = f"no statement in any policy allows {action} on {resource} for this principal"
    if delegated:
        why = (
            f"the resource-based policy delegates to the principal's account "
            f"({delegated[0].label()}), but no identity-based policy allows {action}"
        )
    return make(IMPLICIT_DENY, no_identity, (), why)


def decide(scenario: Mapping[str, Any]) -> Decision:
    """Decide a scenario `{"principal", "action", "resource", "context", "identity_policies",
    "resource_policy"}`."""
    if not isinstance(scenario, Mapping):
        raise PolicyDocumentError("", "a scenario must be a JSON object")
    for key in scenario:
        if key not in _SCENARIO_KEYS and key not in _SCENARIO_EXTRA:
            raise PolicyDocumentError(
                str(key), f"unknown scenario key {key!r}; allowed: {', '.join(_SCENARIO_KEYS)}"
            )
    ids = scenario.get("identity_policies", [])
    if ids is None:
        ids = []
    if not isinstance(ids, list | tuple):
        raise PolicyDocumentError("identity_policies", "must be a list of policy documents")
    ctx = scenario.get("context")
    if ctx is not None and not isinstance(ctx, Mapping):
        raise PolicyDocumentError("context", "must be an object of condition keys to values")
    return evaluate(
        scenario.get("principal"),  # type: ignore[arg-type]  # checked in evaluate
        scenario.get("action"),  # type: ignore[arg-type]
        scenario.get("resource"),  # type: ignore[arg-type]
        identity_policies=ids,
        resource_policy=scenario.get("resource_policy"),
        context=ctx,
        trust_policy=scenario.get("trust_policy"),
    )


def who_can(
    action: str,
    key_arn: str,
    key_policy: PolicyLike,
    principals: Mapping[str, Sequence[PolicyLike]],
    context: Mapping[str, Any] | None = None,
) -> dict[str, Decision]:
    """For each principal (ARN -> its identity policies), the decision for `action` on the key."""
    res = _as_policy(key_policy, "resource", "resource")
    return {
        p: evaluate(
            p, action, key_arn, identity_policies=docs, resource_policy=res, context=context
        )
        for p, docs in principals.items()
    }
