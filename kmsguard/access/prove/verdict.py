"""A question's answer: pass, fail with witnesses (re-checked requests), or unknown and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["pass", "fail", "unknown"]


class WitnessNotConfirmed(AssertionError):
    """The solver's request is not decided as predicted by the evaluator: a prover bug."""


@dataclass(frozen=True)
class Witness:
    """One concrete request, and how each side decides it (confirmed by `evaluate`)."""

    principal: str
    action: str
    resource: str
    context: dict[str, Any]
    # The principal's own account is not ours to see: its IAM policies are assumed to allow it.
    identity_assumed: bool
    allowed: tuple[bool, ...]  # per side, as the evaluator decided
    actions: tuple[str, ...] = ()  # every action of the universe the same request shape gets
    why: str = ""  # the evaluator's explanation on the last side that allows it

    def describe(self) -> str:
        what = ", ".join(self.actions) if len(self.actions) > 1 else self.action
        text = f"{self.principal} may {what}"
        if self.context:
            text += " with " + ", ".join(f"{k}={_show(v)}" for k, v in self.context.items())
        if self.identity_assumed:
            text += " (if its own IAM policies allow it)"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "principal": self.principal,
            "action": self.action,
            "actions": list(self.actions or (self.action,)),
            "resource": self.resource,
            "context": self.context,
            "identity_policies_assumed": self.identity_assumed,
        }


@dataclass(frozen=True)
class Verdict:
    """pass: the property holds; fail: `witnesses` break it; unknown: `reason` says why."""

    question: str
    status: Status
    witnesses: tuple[Witness, ...] = ()
    reason: str = ""
    complete: bool = True  # False when more kinds of witness may exist than were listed

    @property
    def witness(self) -> Witness | None:
        return self.witnesses[0] if self.witnesses else None

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "status": self.status,
            "reason": self.reason,
            "witnesses": [w.to_json() for w in self.witnesses],
            "complete": self.complete,
        }


def _show(v: Any) -> str:
    if v is None:
        return "(absent)"
    return ",".join(str(x) for x in v) if isinstance(v, list) else str(v)
