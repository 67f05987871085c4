"""One authorization question a request asks, and the context every question carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kmsguard.access.subject import Subject
from sandbox.wire import ApiRequest


@dataclass(frozen=True)
class Check:
    """One authorization question: may the subject do `action` on `resource`?"""

    action: str
    resource: str
    resource_policy: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    # Set when the check is a KMS call DynamoDB makes on the caller's behalf.
    via_table: str | None = None
    key_state: str = "Enabled"
    # "trust": `resource_policy` is the trust policy of the role `resource` names (None when
    # there is no such role, which then cannot be assumed).
    policy_kind: str = "resource"
    # The key's grants (ListGrants shape) when `resource` is a KMS key.
    grants: tuple[Mapping[str, Any], ...] = ()


def base_context(subject: Subject, request: ApiRequest) -> dict[str, Any]:
    context: dict[str, Any] = {
        "aws:PrincipalArn": subject.policy_principal,
        "aws:PrincipalAccount": subject.account,
        "aws:RequestedRegion": request.region,
        "aws:SecureTransport": "false",
    }
    # A key the sandbox cannot know is absent from the request, as in AWS, never None.
    context = {k: v for k, v in context.items() if v is not None}
    if subject.kind == "user":
        context["aws:username"] = user_name(subject)
    return context


def user_name(subject: Subject) -> str:
    """An IAM user's name: the last segment of its ARN (after its path)."""
    return (subject.arn or "").rsplit("/", 1)[-1]


def arn_of(subject: Subject) -> str:
    """The caller's ARN: the sandbox resolves callers from its own IAM, so every one has one."""
    return subject.arn or ""


def is_root(subject: Subject) -> bool:
    return subject.kind == "root"
