"""Prove after `pulumi up`, by acting as each principal, that access and configuration match."""

from verification.outputs import (
    SUPPORTED_ACTIONS,
    Expectation,
    StackFacts,
    VerificationInputError,
    load_outputs_file,
    load_stack_outputs,
    parse_outputs,
)
from verification.report import Report
from verification.runner import VerificationUnavailable, run
from verification.settle import Clock
from verification.verdicts import MISMATCH, NOT_VERIFIABLE, PASS, AccessRow, ConfigRow

__all__ = [
    "MISMATCH",
    "NOT_VERIFIABLE",
    "PASS",
    "SUPPORTED_ACTIONS",
    "AccessRow",
    "Clock",
    "ConfigRow",
    "Expectation",
    "Report",
    "StackFacts",
    "VerificationInputError",
    "VerificationUnavailable",
    "load_outputs_file",
    "load_stack_outputs",
    "parse_outputs",
    "run",
]
