"""Aliases under `alias/aws/` belong to AWS managed keys, never to the key a question is about."""

from __future__ import annotations

import z3

from kmsguard.access.arn import RESERVED_ALIAS_PREFIX

# Condition keys whose values are alias names of the key the request reaches.
ALIAS_KEYS = frozenset({"kms:requestalias", "kms:resourcealiases"})


def alias_value_fact(key: str, value: z3.SeqRef, present: z3.BoolRef) -> z3.BoolRef | None:
    """A present alias value of `key` is not a reserved name; None when `key` names no alias.

    The key a policy guards is customer managed, and nobody creates, updates or deletes an alias
    under `alias/aws/` (AWS makes them for its managed keys), so no request to this key names
    one: a policy that allows only such requests allows nothing, and no witness may carry one.
    The prefix is compared as written, as the evaluator compares it.
    """
    if key not in ALIAS_KEYS:
        return None
    reserved = z3.StringVal(RESERVED_ALIAS_PREFIX, value.ctx)
    return z3.Implies(present, z3.Not(z3.PrefixOf(reserved, value)))
