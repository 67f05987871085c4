"""Explain each access result with `kmsguard.access`, from policies the admin reads as deployed."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmsguard import access
from kmsguard.access.arn import account_of
from kmsguard.access.authorization_details import policy_document
from kmsguard.access.dynamodb_context import ENCRYPTION_CONTEXT, decrypt_context
from kmsguard.access.subject import PolicySource, Subject, SubjectKind
from kmsguard.aws_errors import error_code
from kmsguard.contract import DYNAMODB_DATA_ACTIONS
from verification.config_checks import fetch_key_policy
from verification.grants import list_grants
from verification.outputs import StackFacts
from verification.principals import NotVerifiable, parse_principal


class Explainer:
    """Reads the deployed key policy and identity policies once, then explains any request."""

    def __init__(
        self,
        iam: Any,
        kms: Any,
        facts: StackFacts,
        region: str,
        *,
        scps: tuple[Any, ...] = (),
        rcps: tuple[Any, ...] = (),
        encryption_context: Mapping[str, str] | None = None,
    ) -> None:
        self.iam = iam
        self.kms = kms
        self.facts = facts
        self.region = region
        # The organization's policies (one document per level), when the run was given them.
        self.scps = scps
        self.rcps = rcps
        self.encryption_context = dict(encryption_context or {})

    @functools.cached_property
    def key_policy(self) -> Mapping[str, Any]:
        return fetch_key_policy(self.kms, self.facts.key_arn)

    @functools.cache  # noqa: B019 - one Explainer per run; the cache dies with it
    def subject(self, principal: str) -> Subject:
        """The user or role with its policies as deployed: its own, its groups', its boundary."""
        ref = parse_principal(principal)
        docs: list[PolicySource] = []
        groups: list[str] = []
        if ref.kind == "user":
            docs += self._inline("user", ref.name)
            docs += self._attached("user", ref.name)
            pages = self.iam.get_paginator("list_groups_for_user").paginate(UserName=ref.name)
            for page in pages:
                for group in page.get("Groups", []):
                    where = f" of group {group['GroupName']}"
                    docs += self._inline("group", group["GroupName"], where)
                    docs += self._attached("group", group["GroupName"], where)
                    groups.append(str(group.get("Arn") or group["GroupName"]))
            entity = self.iam.get_user(UserName=ref.name)["User"]
        else:
            docs += self._inline("role", ref.name)
            docs += self._attached("role", ref.name)
            entity = self.iam.get_role(RoleName=ref.name)["Role"]
        arn = (entity.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        boundary = PolicySource(f"permissions boundary {arn}", self._managed(arn)) if arn else None
        kind: SubjectKind = "user" if ref.kind == "user" else "role"
        return Subject(principal, kind, tuple(docs), boundary, tuple(groups))

    def _inline(self, kind: str, name: str, where: str = "") -> list[PolicySource]:
        arg = {"user": "UserName", "group": "GroupName", "role": "RoleName"}[kind]
        lister = self.iam.get_paginator(f"list_{kind}_policies")
        getter = getattr(self.iam, f"get_{kind}_policy")
        return [
            PolicySource(
                f"inline policy {policy_name}{where}",
                policy_document(getter(**{arg: name, "PolicyName": policy_name})["PolicyDocument"]),
            )
            for page in lister.paginate(**{arg: name})
            for policy_name in page.get("PolicyNames", [])
        ]

    def _attached(self, kind: str, name: str, where: str = "") -> list[PolicySource]:
        arg = {"user": "UserName", "group": "GroupName", "role": "RoleName"}[kind]
        lister = self.iam.get_paginator(f"list_attached_{kind}_policies")
        return [
            PolicySource(f"managed policy {a['PolicyArn']}{where}", self._managed(a["PolicyArn"]))
            for page in lister.paginate(**{arg: name})
            for a in page.get("AttachedPolicies", [])
        ]

    def _managed(self, arn: str) -> Any:
        version = self.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        doc = self.iam.get_policy_version(PolicyArn=arn, VersionId=version)
        return policy_document(doc["PolicyVersion"]["Document"])

    @functools.cached_property
    def grants(self) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in g.items() if k != "CreationDate"}
            for g in list_grants(self.kms, self.facts.key_arn)
        ]

    def _decide(self, principal: str, action: str, *, on_key: bool, via: bool) -> access.Decision:
        context: dict[str, Any] = {}
        if via:
            # DynamoDB's own call: its service, the caller's account, the table's context.
            context = decrypt_context(self.region, self.facts.table_name, account_of(principal))
        elif on_key:
            # A direct call: the probe's encryption context, for grant constraints.
            context = {ENCRYPTION_CONTEXT + k: v for k, v in self.encryption_context.items()}
        who = self.subject(principal)
        return access.evaluate(
            principal,
            action,
            self.facts.key_arn if on_key else self.facts.table_arn,
            identity_policies=[source.document for source in who.identity_policies],
            resource_policy=self.key_policy if on_key else None,
            context=context or None,
            permissions_boundary=who.boundary.document if who.boundary is not None else None,
            grants=self.grants if on_key else None,
            scps=self.scps,
            rcps=self.rcps,
        )

    def explain(self, principal: str, action: str) -> str:
        """One line: which leg decides and why; never raises (an explanation is best effort)."""
        try:
            return self._explain(principal, action)
        except NotVerifiable as exc:
            return str(exc)
        except (ClientError, BotoCoreError) as exc:
            return f"explanation unavailable: could not read policies ({error_code(exc)})"
        except Exception as exc:  # the evaluator rejecting a deployed document, for instance
            return f"explanation unavailable: {type(exc).__name__}: {str(exc)[:160]}"

    def _explain(self, principal: str, action: str) -> str:
        if action.startswith("kms:"):
            return _line(action, self._decide(principal, action, on_key=True, via=False))
        table = self._decide(principal, action, on_key=False, via=False)
        if action not in DYNAMODB_DATA_ACTIONS or not table.allowed:
            return _line(action, table)
        # DynamoDB calls kms:Decrypt on the caller's behalf for every data action.
        return _line(
            "kms:Decrypt via DynamoDB",
            self._decide(principal, "kms:Decrypt", on_key=True, via=True),
        )


def _line(leg: str, decision: access.Decision) -> str:
    if decision.allowed:
        return f"{leg}: {decision.detail or decision.reason}"
    text = f"{leg}: {decision.effect.replace('_', ' ')}, {decision.reason}"
    return f"{text} ({decision.detail})" if decision.detail else text
