"""Condition operators compiled once into predicates over a lower-cased request context."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kmsguard.access.errors import PolicyDocumentError
from kmsguard.access.matching import (
    arn_glob,
    has_variables,
    literal,
    substitute,
    substituted_glob,
)

Context = Mapping[str, Any]


class Unresolved(Exception):
    """A policy variable has no single value, or a request value cannot be read by the operator."""


Predicate = Callable[[Context], bool]
_Test = Callable[[Any, Context], bool]

NEGATED = frozenset(
    {
        "StringNotEquals",
        "StringNotEqualsIgnoreCase",
        "StringNotLike",
        "NumericNotEquals",
        "DateNotEquals",
        "NotIpAddress",
        "ArnNotEquals",
        "ArnNotLike",
    }
)
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "Equals": lambda a, b: a == b,
    "NotEquals": lambda a, b: a == b,  # negation is applied by the caller
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}
BASE_OPERATORS: tuple[str, ...] = (
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    *(f"Numeric{c}" for c in _COMPARE),
    *(f"Date{c}" for c in _COMPARE),
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
)
_BASE_SET = frozenset(BASE_OPERATORS)
QUALIFIERS = ("ForAnyValue", "ForAllValues")
ALLOWED_TEXT = (
    ", ".join(BASE_OPERATORS)
    + " (each but Null optionally suffixed IfExists and prefixed ForAnyValue:/ForAllValues:)"
)


def as_text(value: Any) -> str | None:
    """A context or policy value as AWS compares it in string operators."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return None


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def as_epoch(value: Any) -> float | None:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, bool):
        return None
    elif isinstance(value, int | float):
        return float(value)
    elif isinstance(value, str):
        if value.isdigit():
            return float(value)
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _values(raw: Any, path: str) -> list[Any]:
    vals = raw if isinstance(raw, list) else [raw]
    if not vals:
        raise PolicyDocumentError(path, "condition values must not be an empty list")
    for i, v in enumerate(vals):
        if v is None or isinstance(v, dict | list):
            where = f"{path}[{i}]" if isinstance(raw, list) else path
            raise PolicyDocumentError(
                where, f"condition value must be a string, number or boolean, not {_kind(v)}"
            )
    return vals


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, dict):
        return "an object"
    return "a list" if isinstance(v, list) else type(v).__name__


def _string_test(base: str, vals: Sequence[Any], path: str) -> _Test:
    # _test_for has checked that every value reads as text.
    texts: list[str] = [v if v.__class__ is str else as_text(v) for v in vals]  # type: ignore[misc]
    dynamic = False
    for t in texts:
        if has_variables(t):
            dynamic = True
            break
    like = base.endswith("Like")
    fold = base.endswith("IgnoreCase")
    if not dynamic and not like:
        exact = frozenset(t.lower() for t in texts) if fold else frozenset(texts)
        if fold:
            return lambda x, _c: (s := as_text(x)) is not None and s.lower() in exact
        return lambda x, _c: (x if x.__class__ is str else as_text(x)) in exact
    if not dynamic:
        globs = [substituted_glob(t) for t in texts]
        if len(globs) == 1:
            one = globs[0].matches
            return lambda x, _c: (s := as_text(x)) is not None and one(s)
        return lambda x, _c: (s := as_text(x)) is not None and any(g.matches(s) for g in globs)

    def test(x: Any, ctx: Context) -> bool:
        s = as_text(x)
        if s is None:
            return False
        for t in texts:
            sub = substitute(t, ctx)
            if sub is None:
                raise Unresolved(t)
            if like:
                if substituted_glob(sub).matches(s):
                    return True
            elif fold:
                if literal(sub).lower() == s.lower():
                    return True
            elif literal(sub) == s:
                return True
        return False

    return test


def _comparable(converted: Any, raw: Any) -> Any:
    """A request value the operator can compare; one it cannot read makes the clause not hold,
    under negated operators too (so it never makes a statement apply)."""
    if converted is None:
        raise Unresolved(str(raw))
    return converted


def _typed(vals: Sequence[Any], path: str, conv: Callable[[Any], Any], what: str) -> list[Any]:
    out = []
    for i, v in enumerate(vals):
        c = conv(v)
        if c is None:
            where = f"{path}[{i}]" if len(vals) > 1 else path
            raise PolicyDocumentError(where, f"{v!r} is not {what}")
        out.append(c)
    return out


def _ip(v: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not isinstance(v, str):
        return None
    try:
        return ipaddress.ip_network(v.strip(), strict=False)
    except ValueError:
        return None


def _test_for(base: str, vals: Sequence[Any], path: str) -> _Test:
    if base.startswith("String"):
        for i, v in enumerate(vals):
            if v.__class__ is not str and as_text(v) is None:
                raise PolicyDocumentError(f"{path}[{i}]", "string operator needs string values")
        return _string_test(base, vals, path)
    if base.startswith("Numeric"):
        nums = _typed(vals, path, as_number, "a number")
        cmp = _COMPARE[base[len("Numeric") :]]
        return lambda x, _c: any(cmp(_comparable(as_number(x), x), v) for v in nums)
    if base.startswith("Date"):
        dates = _typed(vals, path, as_epoch, "a date (ISO 8601 or epoch seconds)")
        dcmp = _COMPARE[base[len("Date") :]]
        return lambda x, _c: any(dcmp(_comparable(as_epoch(x), x), v) for v in dates)
    if base == "Bool":
        bools = frozenset(_typed(vals, path, as_bool, "'true' or 'false'"))
        return lambda x, _c: _comparable(as_bool(x), x) in bools
    if base == "BinaryEquals":
        raw = frozenset(_typed(vals, path, lambda v: v if isinstance(v, str) else None, "a string"))
        return lambda x, _c: x in raw
    if base.endswith("IpAddress"):
        nets = _typed(vals, path, _ip, "an IP address or CIDR block")

        def ip_test(x: Any, _c: Context) -> bool:
            try:
                addr = ipaddress.ip_address(str(x).strip())
            except ValueError:
                raise Unresolved(str(x)) from None
            return any(addr.version == n.version and addr in n for n in nets)

        return ip_test
    # Arn*
    arns = _typed(vals, path, lambda v: v if isinstance(v, str) else None, "an ARN string")
    if any(has_variables(a) for a in arns):

        def arn_dyn(x: Any, ctx: Context) -> bool:
            if not isinstance(x, str):
                return False
            for a in arns:
                sub = substitute(a, ctx)
                if sub is None:
                    raise Unresolved(a)
                g = arn_glob(literal(sub))
                if g is not None and g.matches(x):
                    return True
            return False

        return arn_dyn
    arn_globs = [g for g in (arn_glob(a) for a in arns) if g is not None]
    return lambda x, _c: isinstance(x, str) and any(g.matches(x) for g in arn_globs)


def positive(base: str) -> str:
    """The test a negated base operator negates: StringNotLike -> StringLike."""
    if base not in NEGATED:
        return base
    return base[3:] if base.startswith("Not") else base.replace("Not", "", 1)


@dataclass(frozen=True, slots=True)
class Operator:
    """A condition operator as IAM reads it, e.g. `ForAnyValue:StringNotLikeIfExists`."""

    text: str  # as written
    base: str  # StringNotLike
    qualifier: str  # "", "ForAnyValue" or "ForAllValues"
    if_exists: bool
    negated: bool

    @property
    def positive(self) -> str:
        """The base operator's positive test (what a negated one negates)."""
        return positive(self.base)


# Every operator IAM accepts: a base operator, optionally prefixed ForAnyValue:/ForAllValues:
# and suffixed IfExists (Null takes neither).
OPERATORS: dict[str, Operator] = {
    f"{q}{':' if q else ''}{b}{s}": Operator(
        f"{q}{':' if q else ''}{b}{s}", b, q, bool(s), b in NEGATED
    )
    for b in BASE_OPERATORS
    for q in ("", *QUALIFIERS)
    for s in ("", "IfExists")
    if b != "Null" or not (q or s)
}


def parse_operator(op: Any, cond_path: str) -> Operator:
    """The operator named by `op` (a key of a Condition element at `cond_path`)."""
    parts = OPERATORS.get(op) if isinstance(op, str) else None
    if parts is None:
        if not isinstance(op, str):
            raise PolicyDocumentError(cond_path, "condition operators must be strings")
        raise PolicyDocumentError(
            cond_path,
            f"unknown condition operator {op!r}; allowed: {ALLOWED_TEXT}",
        )
    return parts


def _operator(op: str, block: Any, cond_path: str) -> Operator:
    """The parsed operator, its block checked for shape."""
    parts = parse_operator(op, cond_path)
    if not isinstance(block, dict) or not block:
        raise PolicyDocumentError(
            f"{cond_path}.{op}", "must be a non-empty object of condition keys to values"
        )
    return parts


def _key_path(key: Any, path: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise PolicyDocumentError(path, "condition keys must be non-empty strings")
    return f"{path}.{key}"


def compile_operator(
    operator: Operator, block: Mapping[str, Any], cond_path: str
) -> list[Predicate]:
    """Predicates for one operator block, e.g. `"StringEquals": {"kms:ViaService": [...]}`."""
    base = operator.base
    path = f"{cond_path}.{operator.text}"
    preds: list[Predicate] = []
    for key, raw in block.items():
        kpath = _key_path(key, path)
        vals = _values(raw, kpath)
        lkey = key.lower()
        if base == "Null":
            wants = _typed(vals, kpath, as_bool, "'true' or 'false'")
            preds.append(_null_pred(lkey, frozenset(wants)))
            continue
        preds.append(_clause(lkey, _test_for(base, vals, kpath), operator))
    return preds


def check_condition(cond: Any, path: str) -> bool:
    """Refuse a Condition element `compile_condition` would refuse, with the same message,
    without building its predicates; True when every condition value is a string."""
    if cond.__class__ is not dict and not isinstance(cond, dict):
        raise PolicyDocumentError(path, "Condition must be an object of operators")
    plain = True
    for op, block in cond.items():
        base = _operator(op, block, path).base
        text_only = base.startswith("String")
        for key, raw in block.items():
            if key.__class__ is not str or not key.strip():
                _key_path(key, f"{path}.{op}")
            if text_only and raw.__class__ is str:
                continue  # the common case: a string operator given one string
            kpath = f"{path}.{op}.{key}"
            if raw.__class__ is str:
                vals: list[Any] = [raw]
            else:
                vals = _values(raw, kpath)
                plain = plain and all(v.__class__ is str for v in vals)
            if base == "Null":
                _typed(vals, kpath, as_bool, "'true' or 'false'")
            elif text_only:
                for i, v in enumerate(vals):
                    if v.__class__ is not str and as_text(v) is None:
                        raise PolicyDocumentError(
                            f"{kpath}[{i}]", "string operator needs string values"
                        )
            else:
                _test_for(base, vals, kpath)
    return plain


def compile_checked(cond: dict[str, Any]) -> tuple[Predicate, ...]:
    """`compile_condition` for an element `check_condition` accepted (so no paths to build)."""
    preds: list[Predicate] = []
    for op, block in cond.items():
        operator = OPERATORS[op]
        base = operator.base
        for key, raw in block.items():
            vals = raw if isinstance(raw, list) else [raw]
            if base == "Null":
                wants = frozenset(_typed(vals, "", as_bool, "'true' or 'false'"))
                preds.append(_null_pred(key.lower(), wants))
            else:
                test = _test_for(base, vals, "")
                preds.append(_clause(key.lower(), test, operator))
    return tuple(preds)


def _null_pred(key: str, wants: frozenset[bool]) -> Predicate:
    def pred(ctx: Context) -> bool:
        v = ctx.get(key)
        absent = v is None or v == []
        return absent in wants

    return pred


def _clause(key: str, test: _Test, operator: Operator) -> Predicate:
    negated, qualifier, if_exists = operator.negated, operator.qualifier, operator.if_exists
    plain = not qualifier

    def pred(ctx: Context) -> bool:
        try:
            v = ctx.get(key)
            if plain and v.__class__ is str:
                # The common case: one string value, no set operator.
                return test(v, ctx) != negated
            return _set_test(v, ctx, test, negated, qualifier, if_exists)
        except Unresolved:
            # AWS: a variable it cannot resolve may make the whole statement invalid; so the
            # clause (and with it the statement) never applies, negated operators included.
            return False

    return pred


def _set_test(
    v: Any, ctx: Context, test: _Test, negated: bool, qualifier: str, if_exists: bool
) -> bool:
    if v is None or (isinstance(v, list | tuple) and not v):
        if if_exists:
            return True
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        # AWS: a negated operator on a missing key is true; a positive one is false.
        return negated
    vals = v if isinstance(v, list | tuple) else (v,)
    if qualifier == "ForAllValues":
        return all(test(x, ctx) != negated for x in vals)
    if qualifier == "ForAnyValue":
        return any(test(x, ctx) != negated for x in vals)
    hit = any(test(x, ctx) for x in vals)
    return not hit if negated else hit


def compile_condition(cond: Any, path: str) -> tuple[Predicate, ...]:
    if not isinstance(cond, dict):
        raise PolicyDocumentError(path, "Condition must be an object of operators")
    preds: list[Predicate] = []
    for op, block in cond.items():
        preds.extend(compile_operator(_operator(op, block, path), block, path))
    return tuple(preds)
