"""dynamodb-table-point-in-time-recovery: point-in-time recovery is on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from kmsguard.contract import AwsType
from policies.meta import Findings, RuleMeta, resource_policy
from policies.rules._common import hub, label, props_of
from policies.values import Unknown, as_bool, get

META = RuleMeta(
    name="dynamodb-table-point-in-time-recovery",
    description="DynamoDB tables have point-in-time recovery enabled.",
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    remediation=(
        "Set pointInTimeRecovery={enabled: true} on the aws.dynamodb.Table. Run with "
        "enforcementLevel 'remediate' to let the pack turn it on."
    ),
    controls=(hub("DynamoDB.2"),),
    codes={
        "pitr-unknown": "pointInTimeRecovery.enabled is unknown during preview (deferred)",
        "pitr-disabled": "point-in-time recovery is not enabled (false or absent)",
    },
)


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != AwsType.DYNAMODB_TABLE:
        return
    findings = Findings(report, META)
    enabled = as_bool(get(props_of(args), "pointInTimeRecovery", "enabled"))
    if isinstance(enabled, Unknown):
        findings.defer(
            META.finding(
                "pitr-unknown", label(args), "pointInTimeRecovery.enabled is unknown during preview"
            )
        )
    elif not enabled:
        findings.violation(
            META.finding(
                "pitr-disabled",
                label(args),
                "point-in-time recovery is not enabled",
                {"enabled": enabled},
            )
        )
    findings.finish()


def remediate(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
    if args.resource_type != AwsType.DYNAMODB_TABLE:
        return None
    props = props_of(args)
    enabled = as_bool(get(props, "pointInTimeRecovery", "enabled"))
    if enabled is True or isinstance(enabled, Unknown):
        return None
    # Other settings of the block (the recovery period) are kept.
    block = props.get("pointInTimeRecovery")
    return {
        **props,
        "pointInTimeRecovery": {**(block if isinstance(block, dict) else {}), "enabled": True},
    }


POLICY = resource_policy(META, validate, remediate)
