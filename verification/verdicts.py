"""Row types and verdicts shared by the checks, the probes and the reports."""

from __future__ import annotations

from dataclasses import dataclass

PASS = "pass"
MISMATCH = "MISMATCH"
NOT_VERIFIABLE = "not verifiable"


@dataclass(frozen=True)
class ConfigRow:
    """One configuration check, made as the admin."""

    check: str
    expected: str
    observed: str
    verdict: str
    detail: str = ""


@dataclass(frozen=True)
class AccessRow:
    """One behavioural check: `principal` attempted `action` for real."""

    principal: str
    action: str
    expected: str
    observed: str
    verdict: str
    settle_seconds: float | None = None
    attempts: int = 0
    detail: str = ""
    explanation: str = ""
