"""AWS's decision for a KMS key as one formula: key policy, identity policies, RCPs."""

from __future__ import annotations

import z3

from kmsguard.access.policy import Statement
from kmsguard.access.prove.principals import Principals
from kmsguard.access.prove.universe import ROOT, SERVICE, Side, Unsupported


class Encoder(Principals):
    """Builds formulas over one `Request` in one z3 context: the policy layers' decisions."""

    def action_match(self, st: Statement) -> z3.BoolRef:
        """The request's action is one the statement's Action (or NotAction) matches."""
        hits = [i for i, a in enumerate(self.u.actions) if st.action_matches(a.lower())]
        if len(hits) == len(self.u.actions):
            return self.t()
        # Runs of consecutive indices as ranges: far fewer terms than one equality per action.
        runs: list[list[int]] = []
        for i in hits:
            if runs and runs[-1][1] == i - 1:
                runs[-1][1] = i
            else:
                runs.append([i, i])
        a = self.req.action
        return self.any_of(a == lo if lo == hi else z3.And(a >= lo, a <= hi) for lo, hi in runs)

    def applies(self, st: Statement) -> z3.BoolRef:
        """Action, resource and conditions of a statement hold (not its principal)."""
        if not st.resource_matches(self.u.key_arn, {}):
            return self.f()
        return self.all_of([self.action_match(st), *(self.clause(c) for c in st.clauses)])

    def allowed(self, side: Side) -> z3.BoolRef:
        """AWS's decision for a KMS key: the key policy must allow, directly or by delegation."""
        r = self.req
        deny: list[z3.BoolRef] = []
        direct: list[z3.BoolRef] = []
        delegated: list[z3.BoolRef] = []
        for st in side.key_policy.statements:
            assert st.principal is not None
            d, a = self.principal_match(st.principal, st.not_principal)
            body = self.applies(st)
            if st.is_deny:
                deny.append(z3.And(self.any_of([d, a]), body))
            else:
                direct.append(z3.And(d, body))
                delegated.append(z3.And(a, body))
        known: list[z3.BoolRef] = []
        id_allow: list[z3.BoolRef] = []
        for arn, docs in side.identities.items():
            is_p = self.principal_is(arn)
            known.append(is_p)
            for pol in docs:
                for st in pol.statements:
                    (deny if st.is_deny else id_allow).append(z3.And(is_p, self.applies(st)))
        rcp_levels = self._rcp_levels(side, deny)
        closed = self.any_of(self.account_is(a) for a in side.closed_accounts)
        unseen = z3.And(z3.Not(self.any_of(known)), z3.Not(closed), r.identity_allows)
        any_direct = self.any_of(direct)
        cross = z3.And(r.kind != SERVICE, r.account != self.account_index[self.u.key_account])
        return z3.And(
            z3.Not(self.any_of(deny)),
            self.any_of([any_direct, *delegated]),
            self.any_of([z3.And(any_direct, z3.Not(cross)), r.kind == ROOT, *id_allow, unseen]),
            *rcp_levels,
        )

    def _rcp_levels(self, side: Side, deny: list[z3.BoolRef]) -> list[z3.BoolRef]:
        """Each RCP level must allow; its Deny statements join `deny`. As the evaluator does,
        every principal is subject to them, and kms:RetireGrant is not (AWS KMS)."""
        if not side.rcps:
            return []
        retire = self.action_index.get("kms:retiregrant")
        controlled = self.t() if retire is None else self.req.action != retire
        levels: list[z3.BoolRef] = []
        for pol in side.rcps:
            allows: list[z3.BoolRef] = []
            for st in pol.statements:
                if st.principal is None:
                    raise Unsupported(f"RCP statement {st.sid or st.index} without Principal")
                d, a = self.principal_match(st.principal, st.not_principal)
                body = z3.And(self.any_of([d, a]), self.applies(st))
                if st.is_deny:
                    deny.append(z3.And(controlled, body))
                else:
                    allows.append(body)
            levels.append(z3.Or(z3.Not(controlled), self.any_of(allows)))
        return levels
