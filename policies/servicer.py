"""The SDK's analyzer servicer, with each request's resources converted once for all the rules."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import os
from inspect import isawaitable
from typing import Any, cast

import pulumi.runtime
import pulumi_policy.policy as sdk
from google.protobuf import json_format
from pulumi.runtime import proto
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from policies.values import request_documents

# The SDK's servicer deserializes a resource's properties (and its provider's) once per policy:
# twelve times per Analyze call, five times the whole stack per AnalyzeStack call. The methods
# below are the SDK's own, step for step, with that conversion done once per request (and the
# Settings signature read once). They stand in only for an SDK whose methods are exactly these
# (sha256 of their source): any other version is served by its own servicer, unchanged and
# merely slower.
KNOWN_SOURCES: dict[str, frozenset[str]] = {
    # pulumi-policy 1.20.0 and 1.21.0
    "Analyze": frozenset({"75db9cf8fc9d158596909b9b3f77bf48815990a6f513f2bb35728a67e4d8a515"}),
    "AnalyzeStack": frozenset({"3917a008482c2387d7da37f65d889970933e8df8efc57270559e20b36be837bf"}),
    # pulumi-policy 1.13.0 to 1.21.0
    "_configure_runtime_settings": frozenset(
        {"da0923ff3a404f3633b701587071091c98432f5d7c70856eb8be6a6ee6c4c845"}
    ),
}
_PRIVATE = "_PolicyAnalyzerServicer__"


def source_digest(method: Any) -> str | None:
    """sha256 of a method's source text; None when the source cannot be read."""
    try:
        return hashlib.sha256(inspect.getsource(method).encode()).hexdigest()
    except (OSError, TypeError):
        return None


def unsupported_reason(base: type = sdk._PolicyAnalyzerServicer) -> str | None:
    """Why `base` cannot be served with shared conversion; None when it can."""
    for name, known in KNOWN_SOURCES.items():
        method = getattr(base, name, None)
        if method is None:
            return f"the SDK's servicer has no {name} method"
        if source_digest(method) not in known:
            return f"the SDK's {name} is not the one this pack re-expresses"
    return None


@functools.cache
def takes_organization(settings: type) -> bool:
    """Whether the Pulumi SDK's Settings accepts `organization` (a fact of the class)."""
    return "organization" in inspect.signature(settings).parameters


def convert_properties(struct: Any) -> Any:
    """A resource's (or provider's) properties as the SDK hands them to a rule."""
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


class SharedConversionServicer(sdk._PolicyAnalyzerServicer):
    """Analyze and AnalyzeStack as the SDK runs them, converting each resource once.

    Every rule of a call reads the same property objects: the pack's rules copy what they
    read (`policies.values.plain`) and never write to them.
    """

    def _configure_runtime_settings(self) -> None:
        """The SDK's, asking the Settings class's signature once, not on every request.

        Reading the signature was two thirds of the SDK's fixed cost per request.
        """
        for k, v in pulumi.runtime.get_config_env().items():
            pulumi.runtime.set_config(k, v)
        env = os.environ
        if "PULUMI_PROJECT" in env and "PULUMI_STACK" in env and "PULUMI_DRY_RUN" in env:
            settings_args: dict[str, Any] = {
                "project": env["PULUMI_PROJECT"],
                "stack": env["PULUMI_STACK"],
                "dry_run": env["PULUMI_DRY_RUN"] == "true",
            }
            if takes_organization(pulumi.runtime.Settings):
                settings_args["organization"] = env.get("PULUMI_ORGANIZATION", "organization")
            pulumi.runtime.configure(pulumi.runtime.Settings(**settings_args))

    def _private(self, name: str) -> Any:
        return getattr(self, _PRIVATE + name)

    def _run(self, response: Any, policy: Any, args: Any, report_violation: Any) -> None:
        try:
            result = policy.validate(args, report_violation)
            if result is not None and isawaitable(result):
                loop = asyncio.new_event_loop()
                task = asyncio.Task(cast(Any, result), loop=loop)
                loop.run_until_complete(task)
                loop.close()
        except UnknownValueError as e:
            name, version = self._private("policy_pack_name"), self._private("policy_pack_version")
            response.diagnostics.append(
                proto.AnalyzeDiagnostic(
                    policyName=policy.name,
                    policyPackName=name,
                    policyPackVersion=version,
                    message=(
                        f"can't run policy '{policy.name}' from policy pack "
                        f"'{name}@v{version}' during preview: {e.message}"
                    ),
                    urn="",
                    description=policy.description,
                    enforcementLevel=self._map_enforcement_level(EnforcementLevel.ADVISORY),
                )
            )
        except sdk._NotApplicableError as e:
            response.not_applicable.append(
                proto.PolicyNotApplicable(policy_name=policy.name, reason=e.reason or "")
            )

    def _resource(self, r: Any) -> tuple[Any, Any, Any]:
        """Properties, options and provider of one resource, converted once."""
        return convert_properties(r.properties), self._get_resource_options(r), self._provider(r)

    def _provider(self, r: Any) -> Any:
        if not r.HasField("provider"):
            return None
        prov = r.provider
        props = convert_properties(prov.properties)
        return sdk.PolicyProviderResource(prov.type, props, prov.urn, prov.name)

    def Analyze(self, request: Any, context: Any) -> Any:
        with request_documents():
            return self._analyze(request)

    def AnalyzeStack(self, request: Any, context: Any) -> Any:
        with request_documents():
            return self._analyze_stack(request)

    def _analyze(self, request: Any) -> Any:
        self._configure_runtime_settings()
        response = proto.AnalyzeResponse()
        converted: tuple[Any, Any, Any] | None = None
        stack_tags = self._private("stack_tags")
        for policy in self._private("policies"):
            enforcement_level = self._get_enforcement_level(policy)
            if enforcement_level == EnforcementLevel.DISABLED or not isinstance(
                policy, ResourceValidationPolicy
            ):
                continue
            if not policy.has_validation():
                response.not_applicable.append(
                    proto.PolicyNotApplicable(
                        policy_name=policy.name, reason="Policy does not implement validate"
                    )
                )
                continue
            if enforcement_level == EnforcementLevel.REMEDIATE:
                enforcement_level = EnforcementLevel.MANDATORY
            report_violation = self._create_report_violation(
                response, policy.name, policy.description, enforcement_level, policy.severity
            )
            if converted is None:
                converted = self._resource(request)
            props, opts, provider = converted
            args = ResourceValidationArgs(
                request.type,
                props,
                request.urn,
                request.name,
                opts,
                provider,
                self._get_policy_config(policy.name),
                stack_tags,
            )
            self._run(response, policy, args, report_violation)
        return response

    def _stack(self, request: Any) -> list[PolicyResource]:
        """The request's resources, linked to their parents and dependencies, built once."""
        resources: list[PolicyResource] = []
        links: list[tuple[Any, PolicyResource]] = []
        for r in request.resources:
            props, opts, provider = self._resource(r)
            resource = PolicyResource(r.type, props, r.urn, r.name, opts, provider, None, [], {})
            resources.append(resource)
            links.append((r, resource))
        by_urn = {res.urn: res for res in resources}
        for r, resource in links:
            if r.parent is not None and r.parent in by_urn:
                resource.parent = by_urn[r.parent]
            resource.dependencies.extend(by_urn[d] for d in r.dependencies if d in by_urn)
            for k, v in r.propertyDependencies.items():
                resource.property_dependencies[k] = [by_urn[d] for d in v.urns if d in by_urn]
        return resources

    def _analyze_stack(self, request: Any) -> Any:
        self._configure_runtime_settings()
        response = proto.AnalyzeResponse()
        resources: list[PolicyResource] | None = None
        for policy in self._private("policies"):
            enforcement_level = self._get_enforcement_level(policy)
            if enforcement_level == EnforcementLevel.DISABLED or not isinstance(
                policy, StackValidationPolicy
            ):
                continue
            if enforcement_level == EnforcementLevel.REMEDIATE:
                enforcement_level = EnforcementLevel.MANDATORY
            report_violation = self._create_report_violation(
                response, policy.name, policy.description, enforcement_level, policy.severity
            )
            if resources is None:
                resources = self._stack(request)
            # A list of its own per rule, as the SDK gives; the resource objects are shared.
            args = StackValidationArgs(
                list(resources), self._get_policy_config(policy.name), self._private("stack_tags")
            )
            self._run(response, policy, args, report_violation)
        return response


def servicer_class() -> tuple[type[sdk._PolicyAnalyzerServicer], str]:
    """The servicer to serve the pack with, and a note saying which and why."""
    reason = unsupported_reason()
    if reason is not None:
        return sdk._PolicyAnalyzerServicer, f"SDK servicer, converting per rule ({reason})"
    return SharedConversionServicer, "shared conversion, once per request"


def install() -> str:
    """Have `PolicyPack` serve with `servicer_class()`; the note says which servicer serves."""
    cls, note = servicer_class()
    sdk._PolicyAnalyzerServicer = cls  # type: ignore[misc]
    return note
