"""AWS policy evaluation for one request: KMS key-policy rules or the standard resource rule."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from kmsguard.access import dynamodb_reads
from kmsguard.access.arn import arn_fields, is_account_arn, is_service_principal
from kmsguard.access.decision import (
    ALLOW,
    EFFECTS,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    Decision,
    StatementRef,
)
from kmsguard.access.errors import PolicyDocumentError
from kmsguard.access.grants import Grant
from kmsguard.access.layers import (
    BOUNDARY,
    GRANTS,
    NO_LAYERS,
    RCPS,
    REQUEST_TIME,
    SCPS,
    SESSIONS,
    VPCE,
    build_layers,
    time_keys,
)
from kmsguard.access.logic import decide_request as _decide
from kmsguard.access.logic import label as _label
from kmsguard.access.matching import principal_info, resource_info
from kmsguard.access.policy import Policy, PolicyKind, parse_policy, seen_before

__all__ = [
    "ALLOW",
    "EFFECTS",
    "EXPLICIT_DENY",
    "IMPLICIT_DENY",
    "Decision",
    "StatementRef",
    "build_context",
    "decide",
    "evaluate",
    "who_can",
]


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
    BOUNDARY,
    SESSIONS,
    SCPS,
    RCPS,
    VPCE,
    GRANTS,
    REQUEST_TIME,
)
_SCENARIO_EXTRA = ("name", "description", "comment", "expect", "expected")
_SCENARIO_ALLOWED = frozenset(_SCENARIO_KEYS + _SCENARIO_EXTRA)


def _as_policy(doc: Any, kind: PolicyKind, label: str) -> Policy:
    if isinstance(doc, Policy) and doc.kind == kind and not doc.problems:
        return doc
    try:  # a Policy with problems: parse_policy raises the first
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


# Whole-string matches (fullmatch): `$` would also accept a trailing newline.
_REQUEST_ACTION = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9]+")


@lru_cache(maxsize=4096)
def _well_formed(principal: str, action: str) -> bool:
    # Cached: the sandbox and the pack ask about the same few callers and actions again and again.
    return bool(_REQUEST_ACTION.fullmatch(action)) and _is_caller(principal)


def _is_caller(principal: str) -> bool:
    """An ARN of some account (user, role, session, root...) or an AWS service principal."""
    return is_account_arn(principal) or is_service_principal(principal)


def _check_request(principal: Any, action: Any, resource: Any) -> None:
    for name, value in (("principal", principal), ("action", action), ("resource", resource)):
        if not isinstance(value, str) or not value:
            raise PolicyDocumentError(name, "must be a non-empty string")
    # A request names one concrete action and one caller; a pattern here would be a silent guess.
    if not _REQUEST_ACTION.fullmatch(action):
        raise PolicyDocumentError(
            "action", f"{action!r} is not an action; allowed: service:Action, e.g. kms:Decrypt"
        )
    if not _is_caller(principal):
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
    permissions_boundary: PolicyLike | None = None,
    session_policies: Sequence[PolicyLike] | None = None,
    scps: Sequence[PolicyLike] | None = None,
    rcps: Sequence[PolicyLike] | None = None,
    vpce_policy: PolicyLike | None = None,
    grants: Sequence[Mapping[str, Any] | Grant] | None = None,
    request_time: str | datetime | None = None,
) -> Decision:
    """Decide one request with AWS's evaluation logic.

    `trust_policy` is the trust policy of the role named by `resource`: it is the role's
    resource-based policy for the `sts:` actions (AssumeRole, TagSession, ...).
    `permissions_boundary` is the caller's (a session's: its role's); `session_policies` those
    passed when the session was created; `scps` apply to the caller's account and `rcps` to the
    resource's, one document per level of the organization, each of which must allow;
    `vpce_policy` applies when the context has `aws:SourceVpce`; `grants` are the key's grants
    in ListGrants shape; `request_time` (ISO 8601) gives `aws:CurrentTime`/`aws:EpochTime`.
    """
    if not (
        principal.__class__ is action.__class__ is resource.__class__ is str
        and resource
        and _well_formed(principal, action)
    ):
        _check_request(principal, action, resource)
    if identity_policies.__class__ is not list and isinstance(
        identity_policies, str | bytes | Mapping
    ):
        raise PolicyDocumentError("identity_policies", "must be a list of policy documents")
    ids = [
        p
        if p.__class__ is Policy and p.kind == "identity" and not p.problems
        else seen_before(p, "identity") or _as_policy(p, "identity", _label(i))
        for i, p in enumerate(identity_policies)
    ]
    res: Policy | None
    if resource_policy is None:
        res = None
    elif (
        resource_policy.__class__ is Policy
        and resource_policy.kind == "resource"
        and not resource_policy.problems
    ):
        res = resource_policy
    else:
        res = seen_before(resource_policy, "resource") or _as_policy(
            resource_policy, "resource", "resource"
        )
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
    if res is not None and resource_info(resource).is_kms_alias:
        raise PolicyDocumentError(
            "resource_policy",
            "an alias has no resource-based policy: IAM policies authorize the alias, and the "
            "key's policy is checked with the key's ARN as the resource",
        )
    if res is not None and res_label == "resource":
        res = _dynamodb_resource_policy(principal, action, resource, res)
    layers = NO_LAYERS
    if (
        permissions_boundary is not None
        or session_policies
        or scps
        or rcps
        or vpce_policy is not None
        or grants
    ):
        layers = build_layers(
            permissions_boundary=permissions_boundary,
            session_policies=session_policies,
            scps=scps,
            rcps=rcps,
            vpce_policy=vpce_policy,
            grants=grants,
            context=context,
        )
        _check_layers(principal, layers.boundary is not None, bool(layers.sessions))
    ctx = build_context(principal, resource, context)
    if "aws:currenttime" in ctx or "aws:epochtime" in ctx:
        if request_time is not None:
            raise PolicyDocumentError(
                REQUEST_TIME, "give request_time or the context's aws:CurrentTime, not both"
            )
    else:
        ctx.update(time_keys(request_time))
    # Without its trust policy a role cannot be assumed: every role has one, and it must allow.
    strict = res_label == "trust" or (action[:4].lower() == "sts:" and _is_role_arn(resource))
    decision = _decide(principal, action, resource, ids, res, ctx, res_label, layers, strict)
    if decision.effect == ALLOW:
        why = dynamodb_reads.cross_account_refusal(
            action, principal_info(principal).account, resource
        )
        if why is not None:
            return Decision(
                IMPLICIT_DENY,
                f"DynamoDB does not serve the {action} action to another account",
                (),
                why,
                principal,
                action,
                resource,
            )
    return decision


def _dynamodb_resource_policy(
    principal: str, action: str, resource: str, res: Policy
) -> Policy | None:
    """The resource policy that applies to a request on a DynamoDB resource (None: none does)."""
    if not dynamodb_reads.is_dynamodb(resource):
        return res
    if dynamodb_reads.policy_holder(resource) is None:
        raise PolicyDocumentError(
            "resource_policy",
            f"DynamoDB attaches resource-based policies to tables (covering their indexes) and "
            f"streams only; {resource!r} cannot have one (backups, exports and imports have none)",
        )
    if dynamodb_reads.root_lockout_exempt(action, principal, resource):
        return None
    return res


def _check_layers(principal: str, boundary: bool, sessions: bool) -> None:
    kind = principal_info(principal).kind
    if boundary and kind not in ("user", "role", "assumed-role"):
        raise PolicyDocumentError(
            BOUNDARY,
            "a permissions boundary belongs to an IAM user or role (or a session of the role), "
            f"not to {principal!r}",
        )
    if sessions and kind not in ("assumed-role", "federated-user"):
        raise PolicyDocumentError(
            SESSIONS,
            "session policies belong to a role session (arn:aws:sts::<account>:assumed-role/...) "
            f"or a federated user, not to {principal!r}",
        )


def _is_role_arn(resource: str) -> bool:
    parts = arn_fields(resource)
    return parts is not None and parts[2] == "iam" and parts[5].startswith("role/")


def _trust_governs(action: str) -> bool:
    """STS actions on a role (AssumeRole*, TagSession, ...) are authorized by its trust policy."""
    return action.lower().startswith("sts:")


def decide(scenario: Mapping[str, Any]) -> Decision:
    """Decide a scenario `{"principal", "action", "resource", "context", "identity_policies",
    "resource_policy"}`."""
    if not isinstance(scenario, Mapping):
        raise PolicyDocumentError("", "a scenario must be a JSON object")
    for key in scenario if not scenario.keys() <= _SCENARIO_ALLOWED else ():
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
        permissions_boundary=scenario.get(BOUNDARY),
        session_policies=scenario.get(SESSIONS),
        scps=scenario.get(SCPS),
        rcps=scenario.get(RCPS),
        vpce_policy=scenario.get(VPCE),
        grants=scenario.get(GRANTS),
        request_time=scenario.get(REQUEST_TIME),
    )


def who_can(
    action: str,
    key_arn: str,
    key_policy: PolicyLike,
    principals: Mapping[str, Sequence[PolicyLike]],
    context: Mapping[str, Any] | None = None,
    *,
    boundaries: Mapping[str, PolicyLike] | None = None,
    grants: Sequence[Mapping[str, Any] | Grant] | None = None,
    scps: Sequence[PolicyLike] | None = None,
    rcps: Sequence[PolicyLike] | None = None,
) -> dict[str, Decision]:
    """For each principal (ARN -> its identity policies), the decision for `action` on the key.

    `boundaries` maps a principal ARN to its permissions boundary; `grants` are the key's
    grants; `scps`/`rcps` the organization's levels (see `evaluate`).
    """
    res = _as_policy(key_policy, "resource", "resource")
    bounds = boundaries or {}
    # Parsed once for every principal.
    org = build_layers(scps=scps, rcps=rcps, grants=grants)
    return {
        p: evaluate(
            p,
            action,
            key_arn,
            identity_policies=docs,
            resource_policy=res,
            context=context,
            permissions_boundary=bounds.get(p),
            grants=org.grants,
            scps=org.scps,
            rcps=org.rcps,
        )
        for p, docs in principals.items()
    }
