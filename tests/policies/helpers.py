"""Helpers for rule tests: fake validation args, a violation collector, the default key policy."""

from __future__ import annotations

import json
from typing import Any

from pulumi_policy import (
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.policy import PolicyCustomTimeouts, PolicyProviderResource
from pulumi_policy.proxy import unknown_checking_proxy

from kmsguard.keypolicy import KeyPolicyRoles, build_key_policy
from policies.meta import Deferred, Finding, recording

ACCOUNT = "123456789012"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/key-admin"
USER = f"arn:aws:iam::{ACCOUNT}:user/app"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1111-2222"


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def good_key_policy(**kw: Any) -> dict[str, Any]:
    return build_key_policy(
        KeyPolicyRoles(
            account_id=ACCOUNT, region="us-east-1", administrators=[ADMIN], users=[USER], **kw
        )
    )


def key_props(**over: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "keyUsage": "ENCRYPT_DECRYPT",
        "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "isEnabled": True,
        "enableKeyRotation": True,
        "rotationPeriodInDays": 365,
        "deletionWindowInDays": 30,
        "bypassPolicyLockoutSafetyCheck": False,
        "policy": json.dumps(good_key_policy()),
    }
    props.update(over)
    return {k: v for k, v in props.items() if v is not None}


# The baseline stack's AWS provider is pinned to its account, as a careful stack config does.
PROVIDER_PROPS: dict[str, Any] = {"region": "us-east-1", "allowedAccountIds": [ACCOUNT]}


def provider(props: dict[str, Any] | None) -> PolicyProviderResource | None:
    if props is None:
        return None
    return PolicyProviderResource(
        "pulumi:providers:aws",
        unknown_checking_proxy(props),
        "urn:pulumi:dev::kmsguard::pulumi:providers:aws::default",
        "default",
    )


def resource_args(
    rtype: str,
    props: dict[str, Any],
    config: dict[str, Any] | None = None,
    name: str = "r",
    provider_props: dict[str, Any] | None = PROVIDER_PROPS,
) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        rtype,
        unknown_checking_proxy(props),
        f"urn:pulumi:dev::kmsguard::{rtype}::{name}",
        name,
        _opts(),
        provider(provider_props),
        config,
    )


class Result:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str | None]] = []
        self.deferred: list[str] = []
        self.advice: list[str] = []
        # The same findings as data (from the rules already reporting them so).
        self.found: list[Finding] = []
        self.deferred_found: list[Finding] = []
        self.advice_found: list[Finding] = []

    def report(self, message: str, urn: str | None = None) -> None:
        self.messages.append((message, urn))

    @property
    def texts(self) -> list[str]:
        return [m for m, _ in self.messages]

    @property
    def codes(self) -> list[str]:
        """The codes of the violations, in report order."""
        return [f.code for f in self.found]

    @property
    def deferred_codes(self) -> list[str]:
        return [f.code for f in self.deferred_found]


def run_rule(module: Any, args: Any) -> Result:
    result = Result()
    with recording() as rec:
        try:
            module.validate(args, result.report)
        except Deferred as d:
            result.deferred = d.reasons
            result.advice = d.advice
    result.found, result.deferred_found, result.advice_found = (
        rec.violations,
        rec.deferred,
        rec.advice,
    )
    return result


class Res:
    """Builder of a PolicyResource for stack-rule tests."""

    def __init__(self, rtype: str, name: str, props: dict[str, Any], **deps: list[str]) -> None:
        self.rtype, self.name, self.props, self.deps = rtype, name, props, deps
        self.urn = f"urn:pulumi:dev::kmsguard::{rtype}::{name}"


def stack_args(
    items: list[Res],
    config: dict[str, Any] | None = None,
    provider_props: dict[str, Any] | None = PROVIDER_PROPS,
) -> StackValidationArgs:
    by_urn: dict[str, PolicyResource] = {}
    prov = provider(provider_props)
    for r in items:
        by_urn[r.urn] = PolicyResource(
            r.rtype, unknown_checking_proxy(r.props), r.urn, r.name, _opts(), prov, None, [], {}
        )
    for r in items:
        pr = by_urn[r.urn]
        for prop, names in r.deps.items():
            pr.property_dependencies[prop] = [by_urn[u] for u in names]
            pr.dependencies.extend(by_urn[u] for u in names)
    return StackValidationArgs(list(by_urn.values()), config)
