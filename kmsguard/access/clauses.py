"""A statement's Condition element read as clauses, and its compiled predicates joined."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kmsguard.access.conditions import OPERATORS, Context, Operator, Predicate
from kmsguard.access.policy_elements import values_of


@dataclass(frozen=True, slots=True)
class ConditionClause:
    """One condition test: its operator parsed, its key lower-cased and as written, its values.

    The evaluator runs the compiled predicates; the prover and the pack read these clauses.
    """

    operator: Operator
    key: str
    values: tuple[Any, ...]
    written_key: str


def clauses_of(cond: Any) -> tuple[ConditionClause, ...]:
    # Called after check_condition accepted the element, so its shape is known to be valid.
    if not isinstance(cond, Mapping):
        return ()
    return tuple(
        ConditionClause(
            OPERATORS[op], key.lower(), tuple(raw if isinstance(raw, list) else [raw]), key
        )
        for op, block in cond.items()
        for key, raw in block.items()
    )


def conjunction(preds: tuple[Predicate, ...]) -> Predicate | None:
    if not preds:
        return None
    if len(preds) == 1:
        return preds[0]

    def all_hold(ctx: Context) -> bool:
        return all(p(ctx) for p in preds)

    return all_hold


def lenient_clauses(cond: Any) -> tuple[ConditionClause, ...]:
    """The clauses whose operator IAM knows, of a Condition element of any shape."""
    if not isinstance(cond, Mapping):
        return ()
    return tuple(
        ConditionClause(OPERATORS[op], key.lower(), values_of(raw), key)
        for op, block in cond.items()
        if isinstance(op, str) and op in OPERATORS and isinstance(block, Mapping)
        for key, raw in block.items()
        if isinstance(key, str)
    )
