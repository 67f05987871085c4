"""The values each request variable may take: what AWS can send, so no witness is impossible."""

from __future__ import annotations

from collections.abc import Sequence

import z3

from kmsguard.access.catalog import catalog
from kmsguard.access.prove.alphabet import PATH_HIGH, PATH_LOW, kms_key_actions
from kmsguard.access.prove.context_keys import key_source
from kmsguard.access.prove.regex import Patterns
from kmsguard.access.prove.request import Slot
from kmsguard.access.prove.reserved import alias_value_fact
from kmsguard.access.prove.universe import CLOCK_KEYS, KINDS, ROOT, SERVICE, Side, Universe


class Domains(Patterns):
    """The symbolic request with its facts: each variable within what AWS can send."""

    def __init__(self, universe: Universe, sides: Sequence[Side], ctx: z3.Context) -> None:
        super().__init__(universe, sides, ctx)
        self._base_facts()

    def _base_facts(self) -> None:
        r, u, facts = self.req, self.u, self.req.facts
        c = self.ctx
        facts += [
            r.kind >= 0,
            r.kind < len(KINDS),
            r.account >= 0,
            r.account < len(u.accounts),
            r.service >= 0,
            r.service < len(u.services),
            r.action >= 0,
            r.action < len(u.actions),
        ]
        # The account id: a listed one, or any other 12 digits (never a sample of them).
        digits = z3.Loop(z3.Range("0", "9", c), 12, 12)
        # Facts on the account id, the service name and the path join the query only when it
        # mentions them: z3 is far slower with string facts it does not need.
        lazy = r.lazy
        lazy["acct"] = [z3.InRe(r.acct, digits)]
        for i, a in enumerate(u.accounts[:-1]):
            lazy["acct"].append((r.account == i) == (r.acct == self.s(a)))
        # A service principal: a listed one, or any other name the evaluator reads as one.
        # Simple character ranges: unions of many small classes make the solver 10x slower,
        # so names range over a superset of IAM's grammar: any of U+0021..U+007E but `/`.
        svc_name = z3.Concat(
            z3.Plus(z3.Union(z3.Range("-", ".", c), z3.Range("0", "9", c), z3.Range("a", "z", c))),
            z3.Re(".amazonaws.com", c),
        )
        lazy["svc"] = [z3.InRe(r.svc, svc_name)]
        for i, name in enumerate(u.services[:-1]):
            lazy["svc"].append((r.service == i) == (r.svc == self.s(name)))
        no_slash = z3.Plus(z3.Union(z3.Range("!", ".", c), z3.Range("0", "~", c)))
        facts.append(z3.InRe(r.session, no_slash))
        if self.fold_names:
            facts.append(z3.InRe(r.name, no_slash))
        else:
            lower = z3.Union(z3.Range("!", ".", c), z3.Range("0", "@", c), z3.Range("[", "~", c))
            facts.append(z3.InRe(r.name, z3.Plus(lower)))
        # An IAM path may hold any of U+0021..U+007F, `:` and `/` included.
        path_chars = z3.Range(PATH_LOW, PATH_HIGH, c)
        if not self.fold_names:
            path_chars = z3.Union(z3.Range(PATH_LOW, "@", c), z3.Range("[", PATH_HIGH, c))
        path_re = z3.Union(z3.Re("", c), z3.Concat(z3.Plus(path_chars), z3.Re("/", c)))
        lazy["path"] = [
            z3.InRe(r.path, path_re),
            z3.Implies(z3.Or(r.kind == ROOT, r.kind == SERVICE), r.path == self.s("")),
        ]
        lo, hi = u.window
        facts += [r.now >= lo, r.now <= hi]
        endpoint = self.s(".amazonaws.com")
        for key, slot in r.slots.items():
            facts += [slot.count >= 0, slot.count <= slot.size]
            src = key_source(key).source
            facts += self._action_facts(key, slot)
            if key in CLOCK_KEYS:
                facts += [slot.count == 1, slot.values[0] == z3.ToReal(r.now)]
                continue
            if src == "time":
                # Set with temporary credentials only (a caller may or may not use them), never
                # for a service principal; an issue time or an MFA age lies before the request.
                facts.append(z3.Implies(r.kind == SERVICE, slot.count == 0))
                if key == "aws:tokenissuetime":
                    facts.append(slot.values[0] <= z3.ToReal(r.now))
                else:
                    facts.append(slot.values[0] >= 0)
            for i, v in enumerate(slot.values):
                present = slot.count > i
                if slot.family == "ip":
                    facts += [v >= 0, v < 2**32]
                if src == "via-service" and slot.family == "str":
                    facts.append(z3.Implies(present, z3.SuffixOf(endpoint, v)))
                domain = self._domain(key) if slot.family == "str" else None
                if domain is not None:
                    facts.append(z3.Implies(present, z3.InRe(v, domain)))
                if key == "aws:sourcearn":
                    facts.append(z3.Implies(present, self._source_arn(v)))
                alias_fact = alias_value_fact(key, v, present) if slot.family == "str" else None
                if alias_fact is not None:
                    facts.append(alias_fact)
            if src == "organization":
                facts.append(z3.Implies(r.kind == SERVICE, slot.count == 0))
            if src == "service-source":
                facts.append((slot.count > 0) == z3.And(r.kind == SERVICE, r.source))
        facts.append(z3.Implies(r.kind != SERVICE, z3.Not(r.source)))

    def _domain(self, key: str) -> z3.ReRef | None:
        """The values AWS can set for a key it sets, so no witness holds an impossible one."""
        c = self.ctx
        low_digit = z3.Union(z3.Range("a", "z", c), z3.Range("0", "9", c))

        def run(lo: int, hi: int) -> z3.ReRef:
            return z3.Loop(low_digit, lo, hi)

        org = z3.Concat(z3.Re("o-", c), run(10, 32))
        if key in ("aws:principalorgid", "aws:sourceorgid", "aws:resourceorgid"):
            return org  # Organizations: an organization id is o- and 10 to 32 of [a-z0-9]
        if key.endswith("orgpaths"):
            root = z3.Concat(z3.Re("/r-", c), run(4, 32), z3.Re("/", c))
            ou = z3.Concat(z3.Re("ou-", c), run(4, 32), z3.Re("-", c), run(8, 32), z3.Re("/", c))
            return z3.Concat(org, root, z3.Star(ou))
        return None  # kms:ViaService: an endpoint name, fixed by its suffix above

    def _action_facts(self, key: str, slot: Slot) -> list[z3.BoolRef]:
        """A KMS key the catalog lists for some actions is absent from the others' requests."""
        if not key.startswith("kms:"):
            return []
        listed = kms_key_actions(key)
        if listed is None:
            return []  # unknown to the catalog (perhaps newer): any action may carry it
        known = {a.lower() for a in catalog().get("kms", {}).values()}
        never = [
            i
            for i, a in enumerate(self.u.actions)
            if a.lower() in known and a.lower() not in listed
        ]
        if not never:
            return []
        return [z3.Implies(self.any_of(self.req.action == i for i in never), slot.count == 0)]

    def _source_arn(self, v: z3.SeqRef) -> z3.BoolRef:
        """aws:SourceArn names a resource of the account the service acts for.

        An unlisted account's ARN holds some unlisted account id, not necessarily the same
        one as aws:SourceAccount: a superset of what AWS sends, and cheap to solve.
        """
        u, r = self.u, self.req
        listed = [z3.InRe(v, self._source_re(self.re_lit(a))) for a in u.accounts[:-1]]
        other = z3.And(
            z3.InRe(v, self._source_re(z3.Loop(z3.Range("0", "9", self.ctx), 12, 12))),
            *(z3.Not(x) for x in listed),
        )
        cases = [z3.Implies(r.account == i, x) for i, x in enumerate(listed)]
        return z3.And(*cases, z3.Implies(r.account == len(u.accounts) - 1, other))

    def _source_re(self, account: z3.ReRef) -> z3.ReRef:
        part = z3.Star(self.not_colon)
        colon = self.re_lit(":")
        return z3.Concat(
            self.re_lit("arn:"),
            part,
            colon,
            part,
            colon,
            part,
            colon,
            account,
            colon,
            z3.Plus(self.any_char),
        )
