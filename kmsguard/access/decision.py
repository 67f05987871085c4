"""Decisions and the statements, grants or boundaries that made them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALLOW = "allow"
IMPLICIT_DENY = "implicit_deny"
EXPLICIT_DENY = "explicit_deny"
EFFECTS = (ALLOW, IMPLICIT_DENY, EXPLICIT_DENY)

# What each document of a request is called in AWS's messages ("... in a <type>").
_TYPES = (
    ("identity[", "identity-based policy"),
    ("resource", "resource-based policy"),
    ("trust", "resource-based policy"),
    ("permissions_boundary", "permissions boundary"),
    ("session_policies[", "session policy"),
    ("scps[", "service control policy"),
    ("rcps[", "resource control policy"),
    ("vpce_policy", "VPC endpoint policy"),
    ("grants[", "grant"),
)
_NAMES = {
    "permissions_boundary": "permissions boundary",
    "vpce_policy": "VPC endpoint policy",
    "session_policies": "session policy",
    "scps": "SCP",
    "rcps": "RCP",
}


def policy_type(label: str) -> str:
    """AWS's name for the kind of document a label denotes, e.g. 'service control policy'."""
    for prefix, name in _TYPES:
        if label.startswith(prefix):
            return name
    return "policy"


@dataclass(frozen=True, slots=True)
class StatementRef:
    """A statement that decided a request: which policy, its Sid, its index, its Effect."""

    # "resource", "trust", "identity[<i>]", "permissions_boundary", "session_policies[<i>]",
    # "scps[<i>]", "rcps[<i>]", "vpce_policy" or "grants[<i>]" (then `sid` is the GrantId).
    policy: str
    sid: str | None
    index: int
    effect: str

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "sid": self.sid, "index": self.index, "effect": self.effect}

    @property
    def layer(self) -> str:
        """The kind of document: "identity", "resource", "grants", "scps"... (no position)."""
        return self.policy.partition("[")[0]

    @property
    def position(self) -> int | None:
        """Which document of its layer ("identity[3]" is 3); None where a layer has one."""
        _, bracket, rest = self.policy.partition("[")
        return int(rest.removesuffix("]")) if bracket else None

    def label(self) -> str:
        policy = self.policy
        if policy[0] == "i":  # identity[<i>], the common case
            sid = f" ({self.sid!r})" if self.sid else ""
            return f"{policy} statement {self.index}{sid}"
        if self.policy in ("resource", "trust"):
            return f"statement {self.sid!r}" if self.sid else f"statement {self.index}"
        if self.policy.startswith("grants["):
            gid = self.sid or ""
            return f"grant {gid[:8]}…" if len(gid) > 10 else f"grant {gid}"
        sid = f" ({self.sid!r})" if self.sid else ""
        base, _, rest = self.policy.partition("[")
        name = _NAMES.get(base)
        where = self.policy if name is None else f"{name} [{rest}" if rest else name
        return f"{where} statement {self.index}{sid}"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one request with AWS's reason and the statements that decided it."""

    effect: str
    reason: str
    statements: tuple[StatementRef, ...] = ()
    detail: str = ""
    principal: str = field(default="", compare=False)
    action: str = field(default="", compare=False)
    resource: str = field(default="", compare=False)

    @property
    def allowed(self) -> bool:
        return self.effect == ALLOW

    def to_json(self) -> dict[str, Any]:
        return {
            "effect": self.effect,
            "reason": self.reason,
            "statements": [s.to_json() for s in self.statements],
        }

    def message(
        self, principal: str | None = None, action: str | None = None, resource: str | None = None
    ) -> str:
        """AWS's full sentence, as in an AccessDeniedException."""
        p = principal or self.principal
        a = action or self.action
        r = resource or self.resource
        if self.effect == ALLOW:
            return f"User: {p} is authorized to perform: {a} on resource: {r}"
        glue = " " if self.effect == EXPLICIT_DENY else " because "
        return f"User: {p} is not authorized to perform: {a} on resource: {r}{glue}{self.reason}"
