"""AWS IAM/KMS access decisions: who may do what on a key or table, and why."""

from __future__ import annotations

from kmsguard.access.catalog import action_exists, expand_actions, unknown_actions
from kmsguard.access.errors import PolicyDocumentError
from kmsguard.access.evaluate import (
    ALLOW,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    Decision,
    StatementRef,
    build_context,
    decide,
    evaluate,
    who_can,
)
from kmsguard.access.grants import GRANT_OPERATIONS, Grant, parse_grant
from kmsguard.access.policy import Policy, PolicyKind, Statement, clear_caches, parse_policy

__all__ = [
    "ALLOW",
    "EXPLICIT_DENY",
    "GRANT_OPERATIONS",
    "IMPLICIT_DENY",
    "Decision",
    "Grant",
    "Policy",
    "PolicyDocumentError",
    "PolicyKind",
    "Statement",
    "StatementRef",
    "action_exists",
    "build_context",
    "clear_caches",
    "decide",
    "evaluate",
    "expand_actions",
    "parse_grant",
    "parse_policy",
    "unknown_actions",
    "who_can",
]
