"""aws:PrincipalArn conditions over the ARN as AWS builds it from the symbolic principal."""

from __future__ import annotations

import z3

from kmsguard.access.arn import arn_fields
from kmsguard.access.conditions import as_text, positive
from kmsguard.access.matching import glob
from kmsguard.access.policy import ConditionClause
from kmsguard.access.prove.domains import Domains
from kmsguard.access.prove.universe import ROLE, ROOT, SERVICE, SESSION, USER

_SERVICE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-*?")


def _could_name_service(text: str) -> bool:
    """A service principal's name (`[a-z0-9.-]+.amazonaws.com`) could match `text` (as any
    operator reads it): said here, because z3 is slow to see an empty regex intersection."""
    return all(ch in _SERVICE_CHARS for ch in text.lower())


_ARN_TESTS = frozenset(
    {"StringEquals", "BinaryEquals", "StringEqualsIgnoreCase", "StringLike", "ArnLike", "ArnEquals"}
)


def _python_test(pos: str, pattern: str, real: str) -> bool:
    if pos in ("StringEquals", "BinaryEquals"):
        return pattern == real
    if pos == "StringEqualsIgnoreCase":
        return pattern.lower() == real.lower()
    if pos in ("StringLike", "ArnLike", "ArnEquals"):
        return glob(pattern).matches(real)
    return False


class PrincipalArns(Domains):
    """Tests of aws:PrincipalArn, split where AWS's ARN grammar allows (z3 splits slowly)."""

    def principal_arn_test(self, cl: ConditionClause, base: str) -> z3.BoolRef:
        """aws:PrincipalArn against each value, over the ARN as AWS builds it.

        A value whose first five parts are literal is split there (the account, then the rest
        in z3); any other is matched against the whole ARN. Either way `:` may occur in the
        path, as IAM allows.
        """
        r = self.req
        if base == "Null":
            return self.t()
        pos = positive(base)
        tests: list[z3.BoolRef] = []
        for v in cl.values:
            text = as_text(v) if pos != "Bool" else None
            if text is None or pos not in _ARN_TESTS:
                continue
            if pos in ("StringLike", "ArnLike", "ArnEquals"):
                hint = text.rsplit("/", 1)[-1].replace("*", "x").replace("?", "x")
                if "/" in text and hint and hint not in r.name_hints and len(r.name_hints) < 3:
                    r.name_hints.append(hint)
            if _could_name_service(text):
                tests.append(z3.And(r.kind == SERVICE, self.text_test(r.svc, text, pos)))
            tests.append(z3.And(r.kind != SERVICE, self._iam_arn_test(text, pos)))
        return self.any_of(tests)

    def _iam_arn_test(self, text: str, pos: str) -> z3.BoolRef:
        r = self.req
        parts = arn_fields(text)
        arn_op = pos.startswith("Arn")
        if parts is not None and (arn_op or not any(ch in p for p in parts[:5] for ch in "*?")):
            head, tail = parts[:5], parts[5]
            for p, real in zip(head[:4], ("arn", "aws", "iam", ""), strict=True):
                if not _python_test(pos, p, real):
                    return self.f()
            if "*" in head[4] or "?" in head[4]:
                acct_ok = z3.InRe(
                    r.acct, self.arn_part(head[4], z3.Star(self.not_colon), last=False)
                )
            else:
                acct_ok = self.account_is(head[4])
            return z3.And(acct_ok, self._resource_test(tail, "StringLike" if arn_op else pos))
        if pos != "StringLike":
            return self.f()  # an IAM principal's ARN has six parts at least
        return self._glob_arn(text)

    def _glob_arn(self, pattern: str) -> z3.BoolRef:
        """StringLike on the whole `arn:aws:iam::<account>:<resource>`, without asking z3 to
        split a concatenation: the glob runs here over the fixed-length head (the account's
        twelve digits as symbols), and each state it can reach there takes the resource."""
        r = self.req
        tokens = list(pattern)
        m = len(tokens)

        def close(reach: dict[int, z3.BoolRef]) -> dict[int, z3.BoolRef]:
            out = dict(reach)
            for j in range(m):
                if tokens[j] == "*" and j in out:
                    out[j + 1] = self.any_of([out.get(j + 1, self.f()), out[j]])
            return out

        head: list[str | int] = [*"arn:aws:iam::", *range(12), ":"]
        reach = close({0: self.t()})
        for ch in head:
            nxt: dict[int, list[z3.BoolRef]] = {}
            for j, here in reach.items():
                if j == m or z3.is_false(here):
                    continue
                tok = tokens[j]
                if tok == "*":
                    nxt.setdefault(j, []).append(here)
                    continue
                if tok == "?":
                    ok: z3.BoolRef = self.t()
                elif isinstance(ch, str):
                    ok = self.t() if ch == tok else self.f()
                elif tok.isdigit():
                    ok = z3.SubString(r.acct, ch, 1) == self.s(tok)
                else:
                    ok = self.f()
                nxt.setdefault(j + 1, []).append(self.all_of([here, ok]))
            reach = close({j: self.any_of(v) for j, v in nxt.items()})
        return self.any_of(
            self.all_of([here, self._resource_test("".join(tokens[j:]), "StringLike")])
            for j, here in reach.items()
        )

    def _resource_test(self, text: str, pos: str) -> z3.BoolRef:
        """The resource part of aws:PrincipalArn passes, one case per kind of principal (z3
        is slow on a concatenation that holds a choice)."""
        r = self.req
        root = _python_test(pos, text, "root")
        cases = [z3.And(r.kind == ROOT, self.t() if root else self.f())]
        for kinds, word in (((USER,), "user/"), ((ROLE, SESSION), "role/")):
            res = z3.Concat(self.s(word), r.path, r.name)
            cases.append(z3.And(self.kind_is(*kinds), self.text_test(res, text, pos)))
        return self.any_of(cases)
