"""kms-key-deletion-window: the key's deletion window is at least the configured minimum."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from kmsguard.contract import AwsType
from policies.meta import Findings, RuleMeta, config_of, resource_policy
from policies.rules._common import hub, label, props_of
from policies.values import Unknown, as_int

AWS_DEFAULT_WINDOW = 30

META = RuleMeta(
    name="kms-key-deletion-window",
    description="KMS keys keep a deletion window of at least the configured minimum (days).",
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    remediation=(
        "Set deletionWindowInDays on the aws.kms.Key to at least the minimum (AWS allows 7-30; "
        "30 gives the most time to cancel an unintended deletion). Run with enforcementLevel "
        "'remediate' to let the pack raise it to the minimum."
    ),
    controls=(hub("KMS.3"),),
    config={
        "minDeletionWindowDays": {
            "type": "integer",
            "minimum": 7,
            "maximum": 30,
            "default": 30,
            "description": "Smallest acceptable deletion window in days.",
        }
    },
    codes={
        "deletion-window-unknown": "deletionWindowInDays is unknown during preview (deferred)",
        "deletion-window-not-a-number": "deletionWindowInDays is not a number of days",
        "deletion-window-below-minimum": "the window is shorter than minDeletionWindowDays",
        "deletion-window-outside-aws-range": "the window is outside AWS's 7-30 days",
    },
)


def _minimum(args: ResourceValidationArgs) -> int:
    minimum = as_int(config_of(META, args)["minDeletionWindowDays"])
    return minimum if isinstance(minimum, int) else AWS_DEFAULT_WINDOW


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != AwsType.KMS_KEY:
        return
    findings = Findings(report, META)
    minimum = _minimum(args)
    raw = props_of(args).get("deletionWindowInDays")
    window = AWS_DEFAULT_WINDOW if raw is None else as_int(raw)
    where = label(args)
    if isinstance(window, Unknown):
        findings.defer(
            META.finding(
                "deletion-window-unknown", where, "deletionWindowInDays is unknown during preview"
            )
        )
    elif window is None:
        findings.violation(
            META.finding(
                "deletion-window-not-a-number",
                where,
                f"deletionWindowInDays {raw!r} is not a number of days",
                {"value": repr(raw)},
            )
        )
    elif window < minimum:
        findings.violation(
            META.finding(
                "deletion-window-below-minimum",
                where,
                f"deletion window is {window} days, below the minimum of {minimum}",
                {"days": window, "minimum": minimum},
            )
        )
    elif not 7 <= window <= 30:
        findings.violation(
            META.finding(
                "deletion-window-outside-aws-range",
                where,
                f"deletion window {window} is outside AWS's 7-30 days",
                {"days": window, "allowed": [7, 30]},
            )
        )
    findings.finish()


def remediate(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
    """A window below the minimum (or unreadable) becomes the minimum; one above AWS's 30, 30."""
    if args.resource_type != AwsType.KMS_KEY:
        return None
    props = props_of(args)
    minimum = _minimum(args)
    raw = props.get("deletionWindowInDays")
    window = AWS_DEFAULT_WINDOW if raw is None else as_int(raw)
    if isinstance(window, Unknown):
        return None
    if isinstance(window, int) and minimum <= window <= AWS_DEFAULT_WINDOW:
        return None
    fixed = AWS_DEFAULT_WINDOW if isinstance(window, int) and window > minimum else minimum
    return {**props, "deletionWindowInDays": fixed}


POLICY = resource_policy(META, validate, remediate)
