"""AWS's evaluation order for one request, from explicit deny to session policies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from kmsguard.access.arn import RESERVED_ALIAS_PREFIX, arn_fields
from kmsguard.access.decision import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, Decision, StatementRef
from kmsguard.access.decision import policy_type as _type
from kmsguard.access.grants import GRANTEE_ACCOUNT, GRANTEE_DIRECT, GRANTEE_ROLE, Grant
from kmsguard.access.layers import BOUNDARY, NO_LAYERS, RCPS, SCPS, SESSIONS, VPCE, Layers
from kmsguard.access.matching import PrincipalInfo, ResourceInfo, principal_info, resource_info
from kmsguard.access.policy import ACCOUNT_MATCH, DIRECT_MATCH, NO_MATCH, Policy, Statement

_ID_LABELS = tuple(f"identity[{i}]" for i in range(64))
# Principals a permissions boundary can be attached to (a session carries its role's boundary).
_BOUNDED = frozenset({"user", "role", "assumed-role"})
# AWS reserves aliases under alias/aws/ for AWS managed keys: nobody creates, updates or
# deletes them, whatever the policies say.
_ALIAS_WRITES = frozenset({"kms:createalias", "kms:updatealias", "kms:deletealias"})


def label(i: int) -> str:
    return _ID_LABELS[i] if i < len(_ID_LABELS) else f"identity[{i}]"


def _grant_ref(i: int, grant: Grant) -> StatementRef:
    return StatementRef(f"grants[{i}]", grant.grant_id, 0, "Allow")


class _Found:
    """Statements of one request, sorted by what they can do for it."""

    __slots__ = (
        "boundary",
        "delegated",
        "denies",
        "grants",
        "id_allows",
        "names",
        "names_role",
        "session",
        "unmet",
        "unmet_grants",
        "vpce",
    )

    def __init__(self) -> None:
        self.denies: list[StatementRef] = []
        self.id_allows: list[StatementRef] = []
        self.names: list[StatementRef] = []  # the resource policy names the caller
        self.names_role: list[StatementRef] = []  # ... names the session's role
        self.delegated: list[StatementRef] = []  # ... names the caller's account
        self.unmet: list[StatementRef] = []
        self.boundary: list[StatementRef] = []
        self.session: list[StatementRef] = []
        self.vpce: list[StatementRef] = []
        self.grants: dict[str, list[StatementRef]] = {}
        self.unmet_grants: list[str] = []


def _scan_identity(
    pol: Policy,
    name: str,
    al: str,
    resource: str,
    ctx: Mapping[str, Any],
    allows: list[StatementRef],
    found: _Found,
    note_unmet: bool = False,
) -> None:
    for st in pol.for_action(al):
        if not st.resource_matches(resource, ctx):
            continue
        if st.condition is None or st.condition(ctx):
            (found.denies if st.is_deny else allows).append(pol.ref(name, st))
        elif note_unmet and not st.is_deny:
            found.unmet.append(pol.ref(name, st))


def _scan_resource(
    pol: Policy,
    name: str,
    al: str,
    principal: str,
    info: PrincipalInfo,
    resource: str,
    ctx: Mapping[str, Any],
    found: _Found,
    bounded: bool,
) -> list[tuple[StatementRef, int, Statement]]:
    """Matching Allow statements with their principal match; Deny statements go to `denies`."""
    allows = []
    for st in pol.for_action(al):
        m = st.principal_match(principal, info)
        if st.is_deny and st.not_principal and bounded:
            # AWS: NotPrincipal with Deny always denies a principal that has a boundary.
            m = DIRECT_MATCH
        if m == NO_MATCH or not st.resource_matches(resource, ctx):
            continue
        if st.condition is not None and not st.condition(ctx):
            if not st.is_deny and name in ("resource", "trust"):
                found.unmet.append(pol.ref(name, st))
            continue
        if st.is_deny:
            found.denies.append(pol.ref(name, st))
        else:
            allows.append((pol.ref(name, st), m, st))
    return allows


def _role_only(st: Statement, principal: str, info: PrincipalInfo) -> bool:
    """The statement names the session's role ARN but not the session itself."""
    spec = st.principal
    if spec is None or st.not_principal or spec.everyone or info.kind != "assumed-role":
        return False
    return not spec.names(info) and principal not in spec.others and spec.names_role(info)


def _service_linked(info: PrincipalInfo) -> bool:
    key = info.role_key
    return key is not None and key[1].startswith("AWSServiceRoleFor")


def decide_request(
    principal: str,
    action: str,
    resource: str,
    ids: Sequence[Policy],
    res: Policy | None,
    ctx: Mapping[str, Any],
    res_label: str = "resource",
    layers: Layers = NO_LAYERS,
    strict: bool = False,
) -> Decision:
    info = principal_info(principal)
    rinfo = resource_info(resource)
    al = action.lower()
    if al in _ALIAS_WRITES and rinfo.is_kms_alias and _reserved_alias(resource):
        return Decision(
            EXPLICIT_DENY,
            f"because aliases beginning with {RESERVED_ALIAS_PREFIX} are reserved for AWS "
            "managed keys",
            (),
            f"{resource} is a reserved alias: nobody can create, update or delete it",
            principal,
            action,
            resource,
        )
    found = _Found()
    for i, pol in enumerate(ids):
        _scan_identity(pol, label(i), al, resource, ctx, found.id_allows, found, note_unmet=True)
    bounded = layers.boundary is not None and info.kind in _BOUNDED
    if res is not None:
        for r, m, st in _scan_resource(
            res, res_label, al, principal, info, resource, ctx, found, bounded
        ):
            if m == ACCOUNT_MATCH:
                found.delegated.append(r)
            elif _role_only(st, principal, info):
                found.names_role.append(r)
            else:
                found.names.append(r)
    scp_levels: list[bool] = []
    rcp_levels: list[bool] = []
    if not layers.empty:
        if layers.boundary is not None:
            _scan_identity(layers.boundary, BOUNDARY, al, resource, ctx, found.boundary, found)
        for i, pol in enumerate(layers.sessions):
            _scan_identity(pol, f"{SESSIONS}[{i}]", al, resource, ctx, found.session, found)
        if layers.scps and info.kind != "service" and not _service_linked(info):
            # AWS: SCPs do not restrict service principals or service-linked roles.
            for i, pol in enumerate(layers.scps):
                level: list[StatementRef] = []
                _scan_identity(pol, f"{SCPS}[{i}]", al, resource, ctx, level, found)
                scp_levels.append(bool(level))
        if layers.rcps and al != "kms:retiregrant":
            # AWS KMS: kms:RetireGrant is not controlled by RCPs.
            for i, pol in enumerate(layers.rcps):
                got = _scan_resource(
                    pol, f"{RCPS}[{i}]", al, principal, info, resource, ctx, found, bounded
                )
                rcp_levels.append(bool(got))
        if _vpce_applies(layers, ctx):
            assert layers.vpce is not None
            got = _scan_resource(
                layers.vpce, VPCE, al, principal, info, resource, ctx, found, bounded
            )
            found.vpce = [r for r, _, _ in got]
        if layers.grants and rinfo.is_kms_key:
            _match_grants(layers, principal, info, al, resource, found)
    decision = _outcome(
        principal,
        action,
        resource,
        info,
        rinfo,
        found,
        layers,
        strict,
        res_label,
        scp_levels,
        rcp_levels,
        _vpce_applies(layers, ctx),
    )
    return _explain_unmet(decision, found, action)


def _reserved_alias(resource: str) -> bool:
    # Alias names are compared as written: only the exact prefix is reserved.
    parts = arn_fields(resource)
    return parts is not None and parts[5].startswith(RESERVED_ALIAS_PREFIX)


def _vpce_applies(layers: Layers, ctx: Mapping[str, Any]) -> bool:
    # A VPC endpoint policy only sees requests that come through the endpoint.
    return layers.vpce is not None and ctx.get("aws:sourcevpce") not in (None, "", [])


def _match_grants(
    layers: Layers,
    principal: str,
    info: PrincipalInfo,
    al: str,
    resource: str,
    found: _Found,
) -> None:
    for i, grant in enumerate(layers.grants):
        if al not in grant.operations or not grant.applies_to_key(resource):
            continue
        how = grant.grantee_match(principal, info)
        if how is None:
            continue
        if not grant.constraints_hold(layers.encryption_context):
            found.unmet_grants.append(f"grant {grant.short_id} ({grant.constraints_text()})")
            continue
        found.grants.setdefault(how, []).append(_grant_ref(i, grant))


def _explain_unmet(decision: Decision, found: _Found, action: str) -> Decision:
    if decision.effect != IMPLICIT_DENY or not (found.unmet or found.unmet_grants):
        return decision
    parts = [decision.detail]
    if found.unmet:
        names = ", ".join(u.label() for u in found.unmet)
        are = "its Condition is" if len(found.unmet) == 1 else "their Conditions are"
        parts.append(f"{names} would allow {action}, but {are} not met by this request")
    if found.unmet_grants:
        parts.append(
            f"{', '.join(found.unmet_grants)} would allow {action}, but the request's encryption "
            "context does not satisfy its constraints"
        )
    return replace(decision, detail="; ".join(p for p in parts if p))


def _outcome(
    principal: str,
    action: str,
    resource: str,
    info: PrincipalInfo,
    rinfo: ResourceInfo,
    f: _Found,
    layers: Layers,
    strict: bool,
    res_label: str,
    scp_levels: list[bool],
    rcp_levels: list[bool],
    vpce_applies: bool,
) -> Decision:
    def make(effect: str, reason: str, refs: Sequence[StatementRef], detail: str) -> Decision:
        return Decision(effect, reason, tuple(refs), detail, principal, action, resource)

    if f.denies:
        where = ", ".join(d.label() for d in f.denies)
        kind = _type(f.denies[0].policy)
        article = "an" if kind[0] in "aeiou" else "a"
        return make(
            EXPLICIT_DENY,
            f"with an explicit deny in {article} {kind}",
            f.denies,
            f"denied explicitly by {where}",
        )
    for levels, name, what in (
        (scp_levels, SCPS, "service control policy"),
        (rcp_levels, RCPS, "resource control policy"),
    ):
        # Every level of the organization (root, OUs, account) must allow.
        for i, ok in enumerate(levels):
            if not ok:
                return make(
                    IMPLICIT_DENY,
                    f"no {what} allows the {action} action",
                    (),
                    f"{name}[{i}] has no statement allowing {action} on {resource}",
                )
    if vpce_applies and not f.vpce:
        return make(
            IMPLICIT_DENY,
            f"no VPC endpoint policy allows the {action} action",
            (),
            "the request came through a VPC endpoint (aws:SourceVpce) whose policy does not "
            f"allow {action} on {resource}",
        )
    return _main(make, action, resource, info, rinfo, f, layers, strict, res_label)


def _main(
    make: Any,
    action: str,
    resource: str,
    info: PrincipalInfo,
    rinfo: ResourceInfo,
    f: _Found,
    layers: Layers,
    strict: bool,
    res_label: str,
) -> Decision:
    # An AWS managed policy belongs to no other customer: identity policies alone decide.
    cross = (
        info.account is not None
        and rinfo.account is not None
        and info.account != rinfo.account
        and not rinfo.aws_owned
    )
    owner = (
        "the role's trust policy"
        if res_label == "trust" or (strict and not rinfo.is_kms_key)
        else "the key policy"
        if rinfo.is_kms_key
        else "the resource-based policy"
    )
    root = info.kind == "root"
    if layers.empty:
        # The common case (identity and resource policies only): nothing caps, no grants.
        bounded = sessioned = False
        boundary_ok = session_ok = True
        caps: list[StatementRef] = []
        capped = ""
        g_direct = g_role = g_account = _NONE
    else:
        bounded = layers.boundary is not None and info.kind in _BOUNDED
        sessioned = bool(layers.sessions) and info.kind in ("assumed-role", "federated-user")
        boundary_ok = not bounded or bool(f.boundary)
        session_ok = not sessioned or bool(f.session)
        caps = (f.boundary[:1] if bounded else []) + (f.session[:1] if sessioned else [])
        capped = _caps_text(caps)
        g_direct = f.grants.get(GRANTEE_DIRECT, _NONE)
        g_role = f.grants.get(GRANTEE_ROLE, _NONE)
        g_account = f.grants.get(GRANTEE_ACCOUNT, _NONE)
    identity_ok = (bool(f.id_allows) or root) and boundary_ok and session_ok

    def cap_failure() -> Decision:
        return _cap_failure(make, action, resource, boundary_ok)

    # Grants and resource-policy statements that name the caller itself are not capped by an
    # implicit deny in a boundary or session policy; those naming the session's role are.
    if f.names and not cross:
        text = f"allowed by {owner} {f.names[0].label()}, which names the principal"
        return make(ALLOW, text, f.names, text)
    if g_direct:
        text = f"allowed by {g_direct[0].label()}, which names the principal as grantee"
        return make(ALLOW, text, g_direct, text)
    if g_role:
        if boundary_ok and session_ok:
            text = f"allowed by {g_role[0].label()} to the principal's role{capped}"
            return make(ALLOW, text, [*g_role[:1], *caps], text)
        return cap_failure()
    if f.names_role and not cross:
        if boundary_ok and session_ok:
            text = (
                f"allowed by {owner} {f.names_role[0].label()}, which names the principal's "
                f"role{capped}"
            )
            return make(ALLOW, text, [*f.names_role, *caps], text)
        return cap_failure()
    if g_account and ((identity_ok and f.id_allows) or root):
        text = (
            f"allowed by {g_account[0].label()} to the principal's account together with "
            f"identity policy {f.id_allows[0].label() if f.id_allows else '(account root)'}{capped}"
        )
        return make(ALLOW, text, [g_account[0], *f.id_allows[:1], *caps], text)

    res_allows = f.names + f.names_role + f.delegated
    if strict or rinfo.is_kms_key or cross:
        if not res_allows:
            why = (
                f"identity policy {f.id_allows[0].label()} allows {action}, but {owner} neither "
                "names the principal nor delegates to its account"
                if f.id_allows
                else f"{owner} does not allow {action} for this principal"
            )
            return make(
                IMPLICIT_DENY, f"no resource-based policy allows the {action} action", (), why
            )
        if root and not f.id_allows:
            text = (
                f"allowed by {owner} {res_allows[0].label()}; the account root user needs "
                "no identity-based policy"
            )
            return make(ALLOW, text, res_allows[:1], text)
        if not f.id_allows:
            how = "the principal's account" if f.delegated and not f.names else "the principal"
            why = (
                f"{owner} allows {how} ({res_allows[0].label()}), but no identity-based "
                f"policy allows {action}" + (" (cross-account requests need both)" if cross else "")
            )
            return make(
                IMPLICIT_DENY, f"no identity-based policy allows the {action} action", (), why
            )
        if not (boundary_ok and session_ok):
            return cap_failure()
        first = res_allows[0]
        if cross:
            text = (
                f"allowed cross-account by {owner} {first.label()} together with identity "
                f"policy {f.id_allows[0].label()}{capped}"
            )
            return make(ALLOW, text, [first, *f.id_allows, *caps], text)
        kind = owner.removeprefix("the ") + "'s"
        text = (
            f"allowed by the {kind} account-root delegation ({first.label()}) together "
            f"with identity policy {f.id_allows[0].label()}{capped}"
        )
        return make(ALLOW, text, [first, *f.id_allows, *caps], text)
    if f.id_allows:
        if not (boundary_ok and session_ok):
            return cap_failure()
        text = f"allowed by identity policy {f.id_allows[0].label()}{capped}"
        return make(ALLOW, text, [*f.id_allows, *caps], text)
    if root:
        text = "allowed: the account root user has every permission in its own account"
        return make(ALLOW, text, (), text)
    why = f"no statement in any policy allows {action} on {resource} for this principal"
    if f.delegated:
        why = (
            f"the resource-based policy delegates to the principal's account "
            f"({f.delegated[0].label()}), but no identity-based policy allows {action}"
        )
    return make(IMPLICIT_DENY, f"no identity-based policy allows the {action} action", (), why)


_NONE: list[StatementRef] = []


def _cap_failure(make: Any, action: str, resource: str, boundary_ok: bool) -> Decision:
    if not boundary_ok:
        return make(
            IMPLICIT_DENY,
            f"no permissions boundary allows the {action} action",
            (),
            f"the principal's permissions boundary does not allow {action} on {resource}",
        )
    return make(
        IMPLICIT_DENY,
        f"no session policy allows the {action} action",
        (),
        f"no session policy passed when the role was assumed allows {action} on {resource}",
    )


def _caps_text(caps: list[StatementRef]) -> str:
    if not caps:
        return ""
    return "; within " + " and ".join(c.label() for c in caps)
