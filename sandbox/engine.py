"""Adapter over `kmsguard.access`: parsed-policy cache, decisions, validation of key policies."""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from kmsguard.access.subject import PolicySource, Subject


@dataclass(frozen=True)
class Verdict:
    """The outcome of one authorization check, with AWS's sentence when denied."""

    allowed: bool
    effect: str
    reason: str
    message: str


class PolicyInvalid(Exception):
    """A policy document failed validation; `message` is AWS-style text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Engine:
    """Calls the project's policy evaluator; parsed policies are cached by document text."""

    def __init__(
        self,
        access: ModuleType | None = None,
        cache_size: int = 2048,
        *,
        scps: Sequence[Any] = (),
        rcps: Sequence[Any] = (),
    ) -> None:
        self._access = access if access is not None else importlib.import_module("kmsguard.access")
        self._parse = functools.lru_cache(maxsize=cache_size)(self._parse_uncached)
        # The organization's SCP and RCP levels (parsed documents): every request is within them.
        self.scps = tuple(scps)
        self.rcps = tuple(rcps)

    def _parse_uncached(self, text: str, kind: str) -> Any:
        return self._access.parse_policy(text, kind=kind)

    def parse(self, doc: str | Mapping[str, Any], kind: str) -> Any:
        text = doc if isinstance(doc, str) else json.dumps(doc, sort_keys=True)
        try:
            return self._parse(text, kind)
        except self._access.PolicyDocumentError as exc:
            raise PolicyInvalid(str(exc)) from exc

    def _stored(self, source: PolicySource | None) -> Any:
        """An identity-kind document IAM or STS accepted; one unreadable now grants nothing."""
        if source is None or not source.known:
            return None
        try:
            return self.parse(source.document, "identity")
        except PolicyInvalid:
            return None

    def _grant(self, grant: Mapping[str, Any]) -> Any:
        try:
            return self._access.parse_grant(grant, "grant")
        except self._access.PolicyDocumentError:
            return None  # validated at CreateGrant; a grant unreadable now allows nothing

    def validate_grant(self, params: Mapping[str, Any]) -> None:
        """CreateGrant's grantee, operations and constraints; raise PolicyInvalid."""
        grant = {
            "GrantId": "new",
            **{
                k: params[k]
                for k in ("GranteePrincipal", "Operations", "Constraints")
                if k in params
            },
        }
        try:
            self._access.parse_grant(grant, "CreateGrant")
        except self._access.PolicyDocumentError as exc:
            raise PolicyInvalid(str(exc)) from exc

    def validate_identity_policy(self, doc: str) -> None:
        """A session or boundary policy document; raise PolicyInvalid."""
        self.parse(doc, "identity")

    def validate_resource_policy(self, doc: str) -> None:
        """A table's resource-based policy; raise PolicyInvalid."""
        try:
            json.loads(doc)
        except ValueError as exc:
            raise PolicyInvalid("The policy is not valid JSON.") from exc
        self.parse(doc, "resource")

    def validate_key_policy(self, doc: str) -> None:
        """Raise PolicyInvalid when a key policy is malformed."""
        try:
            json.loads(doc)
        except ValueError as exc:
            raise PolicyInvalid("The key policy is not valid JSON.") from exc
        self.parse(doc, "resource")

    def decide(
        self,
        subject: Subject,
        action: str,
        resource: str,
        *,
        resource_policy: str | None,
        context: Mapping[str, Any],
        grants: Sequence[Mapping[str, Any]] = (),
    ) -> Verdict:
        """Whether `subject` may do `action` on `resource`: its identity policies, boundary and
        session policies, the resource's policy and grants, and the organization's levels."""
        principal_arn = subject.arn or ""
        identity = []
        for source in subject.identity_policies:
            try:
                identity.append(self.parse(source.document, "identity"))
            except PolicyInvalid:
                continue  # IAM validated it on the way in; an unreadable one grants nothing
        resource_parsed = None
        trust_parsed = None
        # A role's resource-based policy is its trust policy (no Resource element).
        kind = "trust" if action.lower().startswith("sts:") and ":role/" in resource else "resource"
        if resource_policy:
            try:
                parsed = self.parse(resource_policy, kind)
            except PolicyInvalid:
                parsed = None
            if kind == "trust":
                trust_parsed = parsed
            else:
                resource_parsed = parsed
        decision = self._access.evaluate(
            principal_arn,
            action,
            resource,
            identity_policies=identity,
            resource_policy=resource_parsed,
            context=dict(context),
            trust_policy=trust_parsed,
            permissions_boundary=self._stored(subject.boundary),
            session_policies=[
                p for p in map(self._stored, subject.session_policies) if p is not None
            ],
            grants=[g for g in map(self._grant, grants) if g is not None],
            scps=self.scps,
            rcps=self.rcps,
        )
        message = "" if decision.allowed else decision.message(principal_arn, action, resource)
        return Verdict(bool(decision.allowed), str(decision.effect), str(decision.reason), message)
