"""The analyzer protocol's messages read and written: levels, severities, structs, results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2

from kmsguard.preview.collect import RegisteredResource
from kmsguard.preview.diagnostics import PolicyMeta, Violation

_LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
LEVEL_CODES = {v: k for k, v in _LEVELS.items()}
_SEVERITIES = {
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}


def struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(dict(data))
    return s


def whole_numbers(value: Any) -> Any:
    """Protobuf structs carry every number as a double; schemas mean 7, not 7.0."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    return value


def violations(response: Any) -> list[Violation]:
    return [
        Violation(
            policy_name=d.policyName,
            pack_name=d.policyPackName,
            pack_version=d.policyPackVersion,
            message=d.message,
            urn=d.urn,
            description=d.description,
            enforcement_level=_LEVELS.get(d.enforcementLevel, "advisory"),
            severity=_SEVERITIES.get(d.severity, ""),
        )
        for d in response.diagnostics
    ]


def policy_metas(info: Any) -> tuple[PolicyMeta, ...]:
    """What GetAnalyzerInfo says about each policy."""
    policies = []
    for p in info.policies:
        fw = p.framework
        framework = {
            k: v
            for k, v in (
                ("name", fw.name),
                ("version", fw.version),
                ("reference", fw.reference),
                ("specification", fw.specification),
            )
            if v
        }
        schema = whole_numbers(json_format.MessageToDict(p.configSchema.properties))
        policies.append(
            PolicyMeta(
                name=p.name,
                description=p.description,
                enforcement_level=_LEVELS.get(p.enforcementLevel, "advisory"),
                severity=_SEVERITIES.get(p.severity, ""),
                remediation=p.remediation_steps,
                url=p.url,
                tags=tuple(p.tags),
                framework=framework,
                config_schema=schema,
                config_required=tuple(p.configSchema.required),
            )
        )
    return tuple(policies)


def resource_options(r: RegisteredResource) -> analyzer_pb2.AnalyzerResourceOptions:
    o = r.options
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(o.get("protect")),
        ignoreChanges=list(o.get("ignoreChanges", [])),
        additionalSecretOutputs=list(o.get("additionalSecretOutputs", [])),
        parent=r.parent,
    )
