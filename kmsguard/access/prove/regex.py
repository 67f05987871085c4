"""IAM string patterns as z3 regular expressions: literals, globs, case folds, ARN patterns."""

from __future__ import annotations

import z3

from kmsguard.access.arn import arn_fields
from kmsguard.access.prove.alphabet import fold_re
from kmsguard.access.prove.request import SymbolicRequest


class Patterns(SymbolicRequest):
    """Regular expressions over the request's strings, each linear in its pattern."""

    def re_lit(self, text: str) -> z3.ReRef:
        """A z3 regex matching exactly `text`."""
        return z3.Re(self.s(text))

    def _seq(self, parts: list[z3.ReRef]) -> z3.ReRef:
        if not parts:
            return z3.Re("", self.ctx)
        return parts[0] if len(parts) == 1 else z3.Concat(*parts)

    def glob(self, pattern: str) -> z3.ReRef:
        """A z3 regex for an IAM glob (`*` any run, `?` one character), linear in the pattern."""
        return self.arn_part(pattern, z3.Star(self.any_char), last=True)

    def fold(self, text: str, *, ascii_only: bool = False) -> z3.ReRef:
        """A z3 regex for `text` compared case-blind, as StringEqualsIgnoreCase does."""
        self.s(text)  # refuses characters beyond the model
        return fold_re(text, self.ctx, ascii_only=ascii_only)

    def arn_re(self, pattern: str) -> z3.ReRef | None:
        """ArnLike/ArnEquals: the six parts globbed alone; `*` spans `:` only in the last."""
        parts = arn_fields(pattern)
        if parts is None:
            return None
        segs: list[z3.ReRef] = []
        for i, part in enumerate(parts):
            if i:
                segs.append(self.re_lit(":"))
            star = z3.Star(self.any_char) if i == 5 else z3.Star(self.not_colon)
            segs.append(self.arn_part(part, star, last=i == 5))
        return self._seq(segs)

    def arn_part(self, part: str, star: z3.ReRef, *, last: bool) -> z3.ReRef:
        """One ARN part's glob: `star` for `*`, one character (not `:` unless `last`) for `?`."""
        one = self.any_char if last else self.not_colon
        out: list[z3.ReRef] = []
        text = ""
        for ch in part:
            if ch in "*?":
                if text:
                    out.append(self.re_lit(text))
                    text = ""
                out.append(star if ch == "*" else one)
            else:
                text += ch
        if text:
            out.append(self.re_lit(text))
        return self._seq(out)

    def text_test(self, x: z3.SeqRef, text: str, pos: str) -> z3.BoolRef:
        """`x` passes a positive string or ARN operator against one policy value."""
        if pos in ("StringEquals", "BinaryEquals"):
            return x == self.s(text)
        if pos == "StringEqualsIgnoreCase":
            return z3.InRe(x, self.fold(text))
        if pos == "StringLike":
            return z3.InRe(x, self.glob(text))
        regex = self.arn_re(text)
        return self.f() if regex is None else z3.InRe(x, regex)
