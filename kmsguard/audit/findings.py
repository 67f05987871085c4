"""One finding of the audit: a resource ARN, the rule, its level and the message with witness."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kmsguard.findings import Finding as RuleFinding
from kmsguard.findings import Reported, report_fields

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


# The kinds of finding of the audit's own checks (beside the pack's rules), by check.
CODES: dict[str, dict[str, str]] = {
    UNREADABLE: {"read-refused": "a read-only call was refused; the resource is not fully judged"},
    KEY_ACCESS: {
        "key-policy-malformed": "the table's key policy cannot be read as a policy",
        "outsider-can-decrypt": "a principal the key policy does not name can decrypt the key",
        "outsiders-unproved": "the prover could not answer who else can decrypt (deferred)",
    },
    READERS: {
        "readers-unknown": "who can read the table is unanswered (deferred)",
        "undeclared-readers": "principals that are not declared readers can read the table",
    },
}


@dataclass(frozen=True)
class Finding:
    """One finding of the audit: the resource's ARN, the rule and its level there, the text,
    and the rule's findings behind it as data (code and witness; none when the pack did not
    record them)."""

    resource: str  # the resource's ARN
    rule: str
    level: str  # mandatory, advisory, remediate, deferred or unreadable
    severity: str
    message: str
    resource_type: str = ""
    found: tuple[Reported, ...] = ()

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
            **report_fields(self.found),
        }
        # The proofs' witnesses, also under their earlier name.
        witnesses = self.found[0].finding.witness.get("witnesses") if len(self.found) == 1 else None
        if isinstance(witnesses, list) and witnesses:
            out["witnesses"] = witnesses
        return out


def own(
    arn: str,
    rule: str,
    code: str,
    level: str,
    severity: str,
    message: str,
    resource_type: str = "",
    witness: Mapping[str, Any] | None = None,
) -> Finding:
    """A finding of one of the audit's own checks; the code must be one CODES declares."""
    if code not in CODES.get(rule, {}):
        raise ValueError(f"the audit's {rule} check declares no finding code {code!r}")
    f = RuleFinding(rule, code, "", message, dict(witness or {}))
    return Finding(
        arn, rule, level, severity, message, resource_type, (Reported(f, level == "deferred"),)
    )


@dataclass(frozen=True)
class Skipped:
    rule: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "reason": self.reason}
