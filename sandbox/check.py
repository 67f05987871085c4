"""One authorization question a request asks, and the context every question carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.principals import Principal
from sandbox.wire import ApiRequest


@dataclass(frozen=True)
class Check:
    """One authorization question: may the principal do `action` on `resource`?"""

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


def base_context(principal: Principal, request: ApiRequest) -> dict[str, Any]:
    context: dict[str, Any] = {
        "aws:PrincipalArn": principal.role_arn or principal.arn,
        "aws:PrincipalAccount": principal.account_id,
        "aws:RequestedRegion": request.region,
        "aws:SecureTransport": "false",
    }
    if principal.kind == "user":
        context["aws:username"] = principal.arn.rsplit("/", 1)[-1]
    return context
