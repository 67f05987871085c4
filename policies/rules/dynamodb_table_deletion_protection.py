"""dynamodb-table-deletion-protection: deletion protection is on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from kmsguard.contract import AwsType
from policies.meta import Findings, RuleMeta, resource_policy
from policies.rules._common import hub, label, props_of
from policies.values import Unknown, as_bool

META = RuleMeta(
    name="dynamodb-table-deletion-protection",
    description="DynamoDB tables have deletion protection enabled.",
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.LOW,
    remediation=(
        "Set deletionProtectionEnabled=true on the aws.dynamodb.Table. Run with enforcementLevel "
        "'remediate' to let the pack turn it on."
    ),
    controls=(hub("DynamoDB.6"),),
    codes={
        "deletion-protection-unknown": "deletionProtectionEnabled is unknown (deferred)",
        "deletion-protection-disabled": "deletion protection is not enabled (false or absent)",
    },
)


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != AwsType.DYNAMODB_TABLE:
        return
    findings = Findings(report, META)
    enabled = as_bool(props_of(args).get("deletionProtectionEnabled"))
    if isinstance(enabled, Unknown):
        findings.defer(
            META.finding(
                "deletion-protection-unknown",
                label(args),
                "deletionProtectionEnabled is unknown during preview",
            )
        )
    elif not enabled:
        findings.violation(
            META.finding(
                "deletion-protection-disabled",
                label(args),
                "deletion protection is not enabled",
                {"enabled": enabled},
            )
        )
    findings.finish()


def remediate(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
    if args.resource_type != AwsType.DYNAMODB_TABLE:
        return None
    props = props_of(args)
    enabled = as_bool(props.get("deletionProtectionEnabled"))
    if enabled is True or isinstance(enabled, Unknown):
        return None
    return {**props, "deletionProtectionEnabled": True}


POLICY = resource_policy(META, validate, remediate)
