"""One finding of the audit: a resource ARN, the rule, its level and the message with witness."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MANDATORY = ("mandatory", "remediate")
# Rules of the pack that judge a plan, not a resource as it is: never run by the audit.
PLAN_ONLY = {
    "kms-key-policy-no-new-access": (
        "compares a planned key policy with a reviewed baseline; an existing key has no plan to "
        "compare (run kmsguard-preview on the change, or `python -m kmsguard.access diff`)"
    ),
    "kms-key-deletion-window": (
        "the deletion window is chosen when a key's deletion is scheduled; an existing key has "
        "none to read"
    ),
}
UNREADABLE = "unreadable"
KEY_ACCESS = "table-key-access"
READERS = "table-readers"


@dataclass(frozen=True)
class Finding:
    resource: str  # the resource's ARN
    rule: str
    level: str  # mandatory, advisory, remediate, deferred or unreadable
    severity: str
    message: str
    resource_type: str = ""
    witnesses: tuple[dict[str, Any], ...] = ()

    @property
    def mandatory(self) -> bool:
        return self.level in MANDATORY

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "resource": self.resource,
            "type": self.resource_type,
            "rule": self.rule,
            "level": self.level,
            "severity": self.severity or "unspecified",
            "message": self.message,
        }
        if self.witnesses:
            out["witnesses"] = list(self.witnesses)
        return out


@dataclass(frozen=True)
class Skipped:
    rule: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "reason": self.reason}
