"""A table's read paths as z3 formulas: DynamoDB's standard rule, then kms:Decrypt through it."""

from __future__ import annotations

from dataclasses import dataclass, field

import z3

from kmsguard.access.dynamodb_context import SUBSCRIBER_ID, encryption_context
from kmsguard.access.dynamodb_reads import ReadPath
from kmsguard.access.grants import Grant
from kmsguard.access.matching import principal_info
from kmsguard.access.policy import Policy, Statement
from kmsguard.access.prove.authorizer import Encoder
from kmsguard.access.prove.readers_setup import DECRYPT, Setup
from kmsguard.access.prove.universe import ROLE, ROOT, SERVICE, SESSION, USER, Unsupported


@dataclass
class Model:
    """The formulas of one query, built over one Encoder (one symbolic principal and context)."""

    enc: Encoder
    setup: Setup
    _id_cache: dict[tuple[str, str], tuple[z3.BoolRef, z3.BoolRef]] = field(default_factory=dict)

    # -- pieces --------------------------------------------------------------------------------
    def applies(self, st: Statement, action: str, resource: str) -> z3.BoolRef:
        e = self.enc
        if not st.action_matches(action.lower()) or not st.resource_matches(resource, {}):
            return e.f()
        return e.all_of(e.clause(c) for c in st.clauses)

    def identity(self, action: str, resource: str) -> tuple[z3.BoolRef, z3.BoolRef]:
        """(some identity policy of a known principal, or an unseen one's, allows; one denies)."""
        cached = self._id_cache.get((action, resource))
        if cached is not None:
            return cached
        e, r = self.enc, self.enc.req
        known: list[z3.BoolRef] = []
        allow: list[z3.BoolRef] = []
        deny: list[z3.BoolRef] = []
        for arn, docs in self.setup.identities.items():
            is_p = e.principal_is(arn)
            known.append(is_p)
            for pol in docs:
                for st in pol.statements:
                    body = z3.And(is_p, self.applies(st, action, resource))
                    (deny if st.is_deny else allow).append(body)
        closed = e.any_of(e.account_is(a) for a in self.setup.closed_accounts)
        # A service principal has no identity policies of its own: only a resource policy
        # naming it can let it in.
        unseen = z3.And(
            r.kind != SERVICE, z3.Not(e.any_of(known)), z3.Not(closed), r.identity_allows
        )
        out = (e.any_of([*allow, unseen]), e.any_of(deny))
        self._id_cache[(action, resource)] = out
        return out

    def boundary(self, action: str, resource: str) -> tuple[z3.BoolRef, z3.BoolRef]:
        """(every boundary of the principal allows, one of them denies)."""
        e = self.enc
        oks, denies = [], []
        for arn, pol in self.setup.boundaries.items():
            is_p = z3.And(e.principal_is(arn), e.kind_is(USER, ROLE, SESSION))
            allow = [self.applies(st, action, resource) for st in pol.statements if not st.is_deny]
            deny = [self.applies(st, action, resource) for st in pol.statements if st.is_deny]
            oks.append(z3.Implies(is_p, e.any_of(allow)))
            denies.append(z3.And(is_p, e.any_of(deny)))
        return e.all_of(oks), e.any_of(denies)

    def scp(self, action: str, resource: str) -> tuple[z3.BoolRef, z3.BoolRef]:
        """(every SCP level allows, one denies) for principals of the organization's accounts;
        SCPs never restrict service principals or service-linked roles (AWS)."""
        e, r = self.enc, self.enc.req
        if not self.setup.scps:
            return e.t(), e.f()
        linked = z3.And(
            e.kind_is(ROLE, SESSION),
            z3.PrefixOf(e.s("AWSServiceRoleFor"), r.name),
        )
        subject = z3.And(
            r.kind != SERVICE,
            z3.Not(linked),
            e.any_of(e.account_is(a) for a in self.setup.scp_accounts),
        )
        levels, denies = [], []
        for pol in self.setup.scps:
            allow = [self.applies(st, action, resource) for st in pol.statements if not st.is_deny]
            deny = [self.applies(st, action, resource) for st in pol.statements if st.is_deny]
            levels.append(e.any_of(allow))
            denies.append(e.any_of(deny))
        return z3.Implies(subject, e.all_of(levels)), z3.And(subject, e.any_of(denies))

    def resource_terms(
        self, pol: Policy | None, action: str, resource: str
    ) -> tuple[z3.BoolRef, z3.BoolRef, z3.BoolRef]:
        """(an Allow names the principal, an Allow names its account, a Deny applies)."""
        e = self.enc
        if pol is None:
            return e.f(), e.f(), e.f()
        direct, delegated, deny = [], [], []
        for st in pol.statements:
            if st.principal is None:
                raise Unsupported(
                    f"resource policy statement {st.sid or st.index} has no Principal"
                )
            d, a = e.principal_match(st.principal, st.not_principal)
            body = self.applies(st, action, resource)
            if st.is_deny:
                deny.append(z3.And(e.any_of([d, a]), body))
            else:
                direct.append(z3.And(d, body))
                delegated.append(z3.And(a, body))
        return e.any_of(direct), e.any_of(delegated), e.any_of(deny)

    def rcp(self, action: str, resource: str) -> tuple[z3.BoolRef, z3.BoolRef]:
        """(every RCP level allows, one denies): they bind every principal (kms:RetireGrant
        excepted, which no read path uses)."""
        e = self.enc
        levels: list[z3.BoolRef] = []
        denies: list[z3.BoolRef] = []
        for pol in self.setup.rcps:
            allows: list[z3.BoolRef] = []
            for st in pol.statements:
                if st.principal is None:
                    raise Unsupported(f"RCP statement {st.sid or st.index} without Principal")
                d, a = e.principal_match(st.principal, st.not_principal)
                body = z3.And(e.any_of([d, a]), self.applies(st, action, resource))
                (denies if st.is_deny else allows).append(body)
            levels.append(e.any_of(allows))
        return e.all_of(levels), e.any_of(denies)

    def cross(self, account: str) -> z3.BoolRef:
        r = self.enc.req
        return z3.And(r.kind != SERVICE, z3.Not(self.enc.account_is(account)))

    def layers(self, action: str, resource: str) -> tuple[z3.BoolRef, z3.BoolRef, z3.BoolRef]:
        """(SCP and RCP levels allow, the boundary allows, some layer denies)."""
        scp_ok, scp_deny = self.scp(action, resource)
        rcp_ok, rcp_deny = self.rcp(action, resource)
        b_ok, b_deny = self.boundary(action, resource)
        _, id_deny = self.identity(action, resource)
        e = self.enc
        return e.all_of([scp_ok, rcp_ok]), b_ok, e.any_of([scp_deny, rcp_deny, b_deny, id_deny])

    # -- the two sides ---------------------------------------------------------------------------
    def dynamodb_allows(self, action: str, resource: str, pol: Policy | None) -> z3.BoolRef:
        """The standard rule: same account, the identity or the resource policy may allow;
        another account's principal needs both."""
        e, r = self.enc, self.enc.req
        direct, delegated, res_deny = self.resource_terms(pol, action, resource)
        id_allow, _ = self.identity(action, resource)
        org_ok, b_ok, deny = self.layers(action, resource)
        root = r.kind == ROOT
        same = e.any_of([direct, z3.And(e.any_of([id_allow, root]), b_ok)])
        cross = z3.And(e.any_of([direct, delegated]), e.any_of([root, z3.And(id_allow, b_ok)]))
        return z3.And(
            z3.Not(e.any_of([deny, res_deny])),
            org_ok,
            z3.If(self.cross(self.setup.account), cross, same),
        )

    def path_allows(self, path: ReadPath, resource: str, pol: Policy | None) -> z3.BoolRef:
        e = self.enc
        terms = [self.dynamodb_allows(a, resource, pol) for a in path.actions]
        terms += [
            self.dynamodb_allows(a, self.setup.restore_target, None) for a in path.target_actions
        ]
        if not path.cross_account:
            terms.append(z3.Not(self.cross(self.setup.account)))
        return e.all_of(terms)

    def decrypt_allows(self) -> z3.BoolRef:
        """kms:Decrypt on the key for the caller, through DynamoDB: the key policy (directly or
        by delegation with an identity policy), or a grant; denies, SCPs, RCPs bind both."""
        e, r, s = self.enc, self.enc.req, self.setup
        key = s.key_arn
        assert s.key_policy is not None
        direct, delegated, key_deny = self.resource_terms(s.key_policy, DECRYPT, key)
        id_allow, _ = self.identity(DECRYPT, key)
        org_ok, b_ok, deny = self.layers(DECRYPT, key)
        root = r.kind == ROOT
        cross = self.cross(s.account)
        by_policy = z3.And(
            e.any_of([direct, delegated]),
            e.any_of([z3.And(direct, z3.Not(cross)), root, z3.And(id_allow, b_ok)]),
        )
        g_direct, g_role, g_account = self.grant_terms()
        by_grant = e.any_of(
            [
                g_direct,
                z3.And(g_role, b_ok),
                z3.And(g_account, e.any_of([root, z3.And(id_allow, b_ok)])),
            ]
        )
        return z3.And(z3.Not(e.any_of([deny, key_deny])), org_ok, e.any_of([by_policy, by_grant]))

    def grant_terms(self) -> tuple[z3.BoolRef, z3.BoolRef, z3.BoolRef]:
        """Grants that allow Decrypt with DynamoDB's encryption context: (to the principal, to
        its role, to its account). The context is fixed by the table, so constraints are
        decided here."""
        e, r, s = self.enc, self.enc.req, self.setup
        direct, role, account = [], [], []
        for g in s.grants:
            if DECRYPT.lower() not in g.operations or not g.applies_to_key(s.key_arn):
                continue
            info = principal_info(g.grantee)
            # The subscriber id is the caller's account: a constraint on it names one account.
            for acct in _grant_accounts(g, info.account):
                ec = encryption_context(s.table_name, acct)
                if not g.constraints_hold(ec):
                    continue
                in_acct = e.t() if acct == "*" else e.account_is(acct)
                if info.kind == "role":
                    direct.append(z3.And(in_acct, e.arn_exact(g.grantee)))
                    assert info.role_key is not None
                    role.append(
                        z3.And(
                            in_acct,
                            r.kind == SESSION,
                            e.account_is(info.role_key[0]),
                            e.role_is(info.role_key[1]),
                        )
                    )
                elif info.kind == "root":
                    direct.append(z3.And(in_acct, e.principal_is(g.grantee)))
                    assert info.account is not None
                    account.append(
                        z3.And(in_acct, e.kind_is(USER, ROLE, SESSION), e.account_is(info.account))
                    )
                else:
                    direct.append(z3.And(in_acct, e.principal_is(g.grantee)))
        return e.any_of(direct), e.any_of(role), e.any_of(account)

    def any_read(self) -> tuple[z3.BoolRef, list[tuple[ReadPath, str, Policy | None, z3.BoolRef]]]:
        """Some read path succeeds end to end; and each path's own formula, for witnesses."""
        e = self.enc
        decrypt = self.decrypt_allows() if self.setup.key_policy is not None else e.t()
        seen: dict[tuple[tuple[str, ...], str, bool], z3.BoolRef] = {}
        rows = []
        for path in self.setup.read_paths:
            for resource, pol in self.setup.resources(path):
                k = (path.actions, resource, path.cross_account)
                if k not in seen:
                    body = self.path_allows(path, resource, pol)
                    seen[k] = e.all_of([body, decrypt]) if path.decrypts else body
                rows.append((path, resource, pol, seen[k]))
        return e.any_of(seen.values()), rows

    def declared(self) -> z3.BoolRef:
        """The principal is a declared reader, or of a trusted account or organization (a service
        principal counts when it acts for a trusted account)."""
        e, r, s = self.enc, self.enc.req, self.setup
        named = [e.principal_is(p) for p in s.declared]
        trusted = e.any_of(e.account_is(a) for a in s.trusted_accounts)
        orgs: list[z3.BoolRef] = []
        slot = r.slots.get("aws:principalorgid")
        if slot is not None:
            orgs += [z3.And(slot.count > 0, slot.values[0] == e.s(o)) for o in s.trusted_orgs]
        return e.any_of(
            [
                *named,
                z3.And(r.kind != SERVICE, trusted),
                z3.And(r.kind == SERVICE, r.source, trusted),
                *orgs,
            ]
        )


def _grant_accounts(g: Grant, grantee_account: str | None) -> list[str]:
    """The caller accounts to try a grant's constraints with ("*": the constraints do not read
    the subscriber id, so any account)."""
    keys = {k for k, _ in (g.subset or ())} | {k for k, _ in (g.equals or ())}
    if SUBSCRIBER_ID not in keys:
        return ["*"]
    named = {v for k, v in (g.subset or ()) + (g.equals or ()) if k == SUBSCRIBER_ID}
    return sorted(named | ({grantee_account} if grantee_account else set()))
