"""Explain each access result with `kmsguard.access`, from policies the admin reads as deployed."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmsguard import access
from kmsguard.access.arn import account_of
from kmsguard.aws_errors import error_code
from kmsguard.contract import CALLER_ACCOUNT, DYNAMODB_DATA_ACTIONS, VIA_SERVICE
from kmsguard.contract import dynamodb_service_endpoint as via_dynamodb
from verification.config_checks import fetch_key_policy
from verification.grants import list_grants
from verification.outputs import StackFacts
from verification.principals import NotVerifiable, parse_principal


def _document(raw: Any) -> Any:
    # boto3 decodes IAM policy documents into dicts; moto or proxies may leave JSON strings.
    return raw


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
    def identity_policies(self, principal: str) -> tuple[Any, ...]:
        ref = parse_principal(principal)
        iam = self.iam
        docs: list[Any] = []
        if ref.kind == "user":
            docs += self._inline("user", ref.name)
            docs += self._attached("user", ref.name)
            groups = iam.get_paginator("list_groups_for_user").paginate(UserName=ref.name)
            for page in groups:
                for group in page.get("Groups", []):
                    docs += self._inline("group", group["GroupName"])
                    docs += self._attached("group", group["GroupName"])
        else:
            docs += self._inline("role", ref.name)
            docs += self._attached("role", ref.name)
        return tuple(docs)

    def _inline(self, kind: str, name: str) -> list[Any]:
        arg = {"user": "UserName", "group": "GroupName", "role": "RoleName"}[kind]
        lister = self.iam.get_paginator(f"list_{kind}_policies")
        getter = getattr(self.iam, f"get_{kind}_policy")
        return [
            _document(getter(**{arg: name, "PolicyName": policy_name})["PolicyDocument"])
            for page in lister.paginate(**{arg: name})
            for policy_name in page.get("PolicyNames", [])
        ]

    def _attached(self, kind: str, name: str) -> list[Any]:
        arg = {"user": "UserName", "group": "GroupName", "role": "RoleName"}[kind]
        lister = self.iam.get_paginator(f"list_attached_{kind}_policies")
        docs = []
        for page in lister.paginate(**{arg: name}):
            for attached in page.get("AttachedPolicies", []):
                arn = attached["PolicyArn"]
                version = self.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
                doc = self.iam.get_policy_version(PolicyArn=arn, VersionId=version)
                docs.append(_document(doc["PolicyVersion"]["Document"]))
        return docs

    @functools.cache  # noqa: B019 - one Explainer per run; the cache dies with it
    def boundary(self, principal: str) -> Any:
        """The user's or role's permissions boundary document, or None."""
        ref = parse_principal(principal)
        if ref.kind == "user":
            entity = self.iam.get_user(UserName=ref.name)["User"]
        else:
            entity = self.iam.get_role(RoleName=ref.name)["Role"]
        arn = (entity.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        if not arn:
            return None
        version = self.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        doc = self.iam.get_policy_version(PolicyArn=arn, VersionId=version)
        return _document(doc["PolicyVersion"]["Document"])

    @functools.cached_property
    def grants(self) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in g.items() if k != "CreationDate"}
            for g in list_grants(self.kms, self.facts.key_arn)
        ]

    def _decide(self, principal: str, action: str, *, on_key: bool, via: bool) -> access.Decision:
        context: dict[str, Any] = {}
        if via:
            context = {
                VIA_SERVICE: via_dynamodb(self.region),
                CALLER_ACCOUNT: account_of(principal) or "",
            }
        if on_key:
            # The encryption context of the call, for grant constraints: DynamoDB's own for a
            # call through the table, the probe's for a direct one.
            ec = (
                {
                    "aws:dynamodb:tableName": self.facts.table_name,
                    "aws:dynamodb:subscriberId": account_of(principal) or "",
                }
                if via
                else self.encryption_context
            )
            context.update({f"kms:EncryptionContext:{k}": v for k, v in ec.items()})
        return access.evaluate(
            principal,
            action,
            self.facts.key_arn if on_key else self.facts.table_arn,
            identity_policies=list(self.identity_policies(principal)),
            resource_policy=self.key_policy if on_key else None,
            context=context or None,
            permissions_boundary=self.boundary(principal),
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
