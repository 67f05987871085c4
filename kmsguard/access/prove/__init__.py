"""Proofs about who may use a key: z3 over the evaluator's parsed policies, witnesses re-checked."""

from __future__ import annotations

from kmsguard.access.prove.context_keys import CONTEXT_KEYS, KeySource, key_source
from kmsguard.access.prove.questions import (
    access_not_granted,
    equivalent,
    no_new_access,
    no_public_access,
)
from kmsguard.access.prove.readers import ReadersVerdict, ReaderWitness, readers
from kmsguard.access.prove.search import DEFAULT_TIMEOUT_S
from kmsguard.access.prove.universe import Key
from kmsguard.access.prove.verdict import Verdict, Witness, WitnessNotConfirmed

__all__ = [
    "CONTEXT_KEYS",
    "DEFAULT_TIMEOUT_S",
    "Key",
    "KeySource",
    "ReaderWitness",
    "ReadersVerdict",
    "Verdict",
    "Witness",
    "WitnessNotConfirmed",
    "access_not_granted",
    "equivalent",
    "key_source",
    "no_new_access",
    "no_public_access",
    "readers",
]
