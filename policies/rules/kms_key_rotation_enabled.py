"""kms-key-rotation-enabled: symmetric keys rotate, within the configured maximum period."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from kmsguard.contract import AwsType
from policies.meta import Findings, RuleMeta, config_of, resource_policy
from policies.rules._common import cis, hub, label, props_of
from policies.values import Unknown, as_bool, as_int, is_unknown

AWS_DEFAULT_PERIOD = 365
PERIOD_RANGE = (90, 2560)

META = RuleMeta(
    name="kms-key-rotation-enabled",
    description="Symmetric KMS keys have automatic rotation on, with a period within the maximum.",
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation=(
        "Set enableKeyRotation=true on the aws.kms.Key and rotationPeriodInDays between 90 and the "
        "configured maximum. Run with enforcementLevel 'remediate' to let the pack fix it."
    ),
    controls=(hub("KMS.4"), cis("3.6")),
    config={
        "maxRotationPeriodDays": {
            "type": "integer",
            "minimum": 90,
            "maximum": 2560,
            "default": 365,
            "description": "Longest acceptable automatic rotation period in days.",
        }
    },
    codes={
        "key-spec-unknown": "key spec or usage is unknown during preview (deferred)",
        "rotation-unknown": "enableKeyRotation is unknown during preview (deferred)",
        "rotation-disabled": "automatic rotation is off on a symmetric encryption key",
        "rotation-period-unknown": "rotationPeriodInDays is unknown during preview (deferred)",
        "rotation-period-not-a-number": "rotationPeriodInDays is not a number",
        "rotation-period-above-maximum": "the period is longer than maxRotationPeriodDays",
        "rotation-period-below-aws-minimum": "the period is shorter than AWS's 90 days",
    },
)


def _symmetric(props: Mapping[str, Any]) -> bool | Unknown:
    spec = props.get("customerMasterKeySpec", props.get("keySpec")) or "SYMMETRIC_DEFAULT"
    usage = props.get("keyUsage") or "ENCRYPT_DECRYPT"
    if is_unknown(spec) or is_unknown(usage):
        return Unknown()
    return spec == "SYMMETRIC_DEFAULT" and usage == "ENCRYPT_DECRYPT"


def _maximum(args: ResourceValidationArgs) -> int:
    value = as_int(config_of(META, args)["maxRotationPeriodDays"])
    return value if isinstance(value, int) else AWS_DEFAULT_PERIOD


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != AwsType.KMS_KEY:
        return
    findings = Findings(report, META)
    where = label(args)
    props = props_of(args)
    symmetric = _symmetric(props)
    if isinstance(symmetric, Unknown):
        findings.defer(
            META.finding("key-spec-unknown", where, "key spec or usage is unknown during preview")
        )
        findings.finish()
    if not symmetric:
        return
    enabled = as_bool(props.get("enableKeyRotation"))
    maximum = _maximum(args)
    if isinstance(enabled, Unknown):
        findings.defer(
            META.finding("rotation-unknown", where, "enableKeyRotation is unknown during preview")
        )
    elif not enabled:
        findings.violation(
            META.finding(
                "rotation-disabled",
                where,
                "automatic key rotation is not enabled",
                {"enabled": enabled},
            )
        )
    else:
        raw = props.get("rotationPeriodInDays")
        period = AWS_DEFAULT_PERIOD if raw is None else as_int(raw)
        if isinstance(period, Unknown):
            findings.defer(
                META.finding(
                    "rotation-period-unknown",
                    where,
                    "rotationPeriodInDays is unknown during preview",
                )
            )
        elif period is None:
            findings.violation(
                META.finding(
                    "rotation-period-not-a-number",
                    where,
                    f"rotationPeriodInDays {raw!r} is not a number",
                    {"value": repr(raw)},
                )
            )
        elif period > maximum:
            findings.violation(
                META.finding(
                    "rotation-period-above-maximum",
                    where,
                    f"rotation period is {period} days, above the maximum of {maximum}",
                    {"days": period, "maximum": maximum},
                )
            )
        elif period < PERIOD_RANGE[0]:
            findings.violation(
                META.finding(
                    "rotation-period-below-aws-minimum",
                    where,
                    f"rotation period {period} is below AWS's 90 days",
                    {"days": period, "minimum": PERIOD_RANGE[0]},
                )
            )
    findings.finish()


def remediate(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
    if args.resource_type != AwsType.KMS_KEY:
        return None
    props = props_of(args)
    if _symmetric(props) is not True:
        return None
    maximum = _maximum(args)
    period = as_int(props.get("rotationPeriodInDays", AWS_DEFAULT_PERIOD))
    fixed_period = (
        period if isinstance(period, int) and PERIOD_RANGE[0] <= period <= maximum else maximum
    )
    if as_bool(props.get("enableKeyRotation")) is True and fixed_period == period:
        return None
    return {**props, "enableKeyRotation": True, "rotationPeriodInDays": fixed_period}


POLICY = resource_policy(META, validate, remediate)
