"""Whom a Principal or NotPrincipal names, over the symbolic principal."""

from __future__ import annotations

import re

import z3

from kmsguard.access.arn import arn_fields
from kmsguard.access.policy import PrincipalSpec
from kmsguard.access.prove.conditions import Conditions
from kmsguard.access.prove.universe import ROLE, ROOT, SERVICE, SESSION, USER


class Principals(Conditions):
    """Principal elements as formulas, as PrincipalSpec.match/excludes read them."""

    def principal_is(self, arn: str) -> z3.BoolRef:
        """The request's principal is `arn` (a role ARN also covers its sessions)."""
        r = self.req
        if arn in self.service_index:
            return z3.And(r.kind == SERVICE, r.service == self.service_index[arn])
        if re.fullmatch(r"\d{12}", arn):
            return z3.And(r.kind == ROOT, self.account_is(arn))
        parts = arn_fields(arn)
        if parts is None or parts[0] != "arn":
            return self.f()
        service, account, res = parts[2], parts[4], parts[5]
        acct = self.account_is(account)
        if service == "iam" and res == "root":
            return z3.And(r.kind == ROOT, acct)
        if service == "iam" and res.startswith("user/"):
            return z3.And(r.kind == USER, acct, self._iam_name_is(res[5:]))
        if service == "iam" and res.startswith("role/"):
            return z3.And(
                acct,
                z3.Or(
                    z3.And(r.kind == ROLE, self._iam_name_is(res[5:])),
                    z3.And(r.kind == SESSION, self.role_is(res.rsplit("/", 1)[-1])),
                ),
            )
        if service == "sts" and res.startswith("assumed-role/"):
            segs = res.split("/")
            if len(segs) != 3:
                return self.f()
            return z3.And(
                r.kind == SESSION, acct, self.role_is(segs[1]), r.session == self.s(segs[2])
            )
        return self.f()

    def _iam_name_is(self, path_and_name: str) -> z3.BoolRef:
        # The path is "" or ends in `/` and the name holds no `/`: split at the last one.
        head, slash, name = path_and_name.rpartition("/")
        path = head + slash
        return z3.And(self._folded(self.req.path, path), self._folded(self.req.name, name))

    def role_is(self, name: str) -> z3.BoolRef:
        """The request's role (or its session's role) is named `name`."""
        return self._folded(self.req.name, name)

    def _folded(self, x: z3.SeqRef, text: str) -> z3.BoolRef:
        """IAM compares user and role names (and paths) case-insensitively. Where no condition
        reads a name, names are all lower case (the same principals, to every statement), and
        an equality is much faster for z3 than a case-blind pattern."""
        if self.fold_names:
            return z3.InRe(x, self.fold(text, ascii_only=True))
        return x == self.s(text.lower())

    def arn_exact(self, arn: str) -> z3.BoolRef:
        """The request's principal ARN is exactly `arn` (no role-to-session widening)."""
        r = self.req
        parts = arn_fields(arn)
        if parts is not None and parts[2] == "iam" and parts[5].startswith("role/"):
            return z3.And(
                r.kind == ROLE, self.account_is(parts[4]), self._iam_name_is(parts[5][5:])
            )
        return self.principal_is(arn)

    def principal_match(self, spec: PrincipalSpec, negated: bool) -> tuple[z3.BoolRef, z3.BoolRef]:
        """(names the principal, delegates to its account), as PrincipalSpec.match/excludes."""
        r = self.req
        services = [self.principal_is(o) for o in spec.others if o in self.service_index]
        if negated:
            if spec.everyone:
                return self.f(), self.f()
            acct_ok = self.any_of(self.account_is(a) for a in spec.accounts)
            arn_in = self.any_of(self.arn_exact(a) for a in spec.arns)
            role_key = self.any_of(
                z3.And(self.account_is(acct), self.role_is(name)) for acct, name in spec.role_keys
            )
            excluded = self.any_of(
                [
                    *services,
                    z3.And(r.kind == ROOT, acct_ok),
                    z3.And(r.kind == SESSION, arn_in, role_key, acct_ok),
                    z3.And(self.kind_is(USER, ROLE), arn_in, acct_ok),
                ]
            )
            return z3.Not(excluded), self.f()
        if spec.everyone:
            return self.t(), self.f()
        direct = [*services, *(self.arn_exact(a) for a in spec.arns)]
        direct += [
            z3.And(r.kind == SESSION, self.account_is(acct), self.role_is(name))
            for acct, name in spec.role_keys
        ]
        in_account = self.any_of(self.account_is(a) for a in spec.accounts)
        direct.append(z3.And(r.kind == ROOT, in_account))
        delegated = z3.And(self.kind_is(USER, ROLE, SESSION), in_account)
        return self.any_of(direct), delegated
