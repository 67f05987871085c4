"""A principal with the policies that decide what it may do: the one type every collector fills."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from kmsguard.access.arn import account_of, session_role

# root: the account itself; user and role: IAM identities; assumed-role: a role's session.
SubjectKind = Literal["root", "user", "role", "assumed-role"]


@dataclass(frozen=True)
class PolicySource:
    """One policy document reaching a subject, and where it comes from.

    `document` is the JSON text or the parsed document as the collector read it, or None when
    it cannot be known (an unresolved plan value, a refused read); `problem` then says why, and
    a judge must treat the subject's access as unknown rather than read the gap as "no policy".
    """

    origin: str
    document: Any
    problem: str = ""

    @property
    def known(self) -> bool:
        return self.document is not None


@dataclass(frozen=True)
class Subject:
    """A caller as IAM authorizes it: its identity policies (its own, its groups', managed ones,
    in evaluation order), its permissions boundary, and for a session the role it came from and
    the session policies that cap the role's.

    `arn` is None while a plan has not decided it (a user whose name is computed at deploy).
    """

    arn: str | None
    kind: SubjectKind
    identity_policies: tuple[PolicySource, ...] = ()
    boundary: PolicySource | None = None
    # ARNs (or, in a plan, names) of the groups whose policies are among `identity_policies`.
    groups: tuple[str, ...] = ()
    # An assumed-role session's role ARN: key and table policies name roles, not sessions.
    role_arn: str | None = None
    session_policies: tuple[PolicySource, ...] = ()
    # A role's trust policy, when the collector reads it.
    trust: PolicySource | None = None

    @property
    def account(self) -> str | None:
        """The account the subject belongs to, read from its ARN (never guessed)."""
        return account_of(self.arn) if self.arn else None

    @property
    def policy_principal(self) -> str | None:
        """The ARN a resource policy names to mean this subject: a session's role, else itself."""
        if self.kind == "assumed-role":
            return self.role_arn or (session_role(self.arn) if self.arn else None)
        return self.arn

    @property
    def fully_known(self) -> bool:
        """Every policy that reaches the subject was read."""
        sources = (*self.identity_policies, *self.session_policies)
        bounded = () if self.boundary is None else (self.boundary,)
        return all(s.known for s in (*sources, *bounded))
