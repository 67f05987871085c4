"""kms-key-policy-size: a key policy fits AWS's 32 KB limit, so the update does not fail."""

from __future__ import annotations

import json

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from policies.meta import Findings, RuleMeta, resource_policy
from policies.rules._common import KEY_POLICY_TYPES, label, props_of
from policies.values import contains_unknown

# AWS KMS quotas: "Key policy document size: 32 KB (32,768 bytes)".
MAX_BYTES = 32_768

META = RuleMeta(
    name="kms-key-policy-size",
    description=(
        "A key policy (inline on aws.kms.Key or an aws.kms.KeyPolicy) is at most 32 KB "
        "(32,768 bytes), AWS's limit; a larger one fails when the update is applied."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.LOW,
    remediation=(
        "Shorten the key policy: merge statements with the same effect and conditions, list "
        "principals once, and grant through IAM policies (root delegation) or grants instead."
    ),
    no_remediation=("which statements to drop or merge is a design decision"),
    codes={
        "key-policy-unknown": "the key policy is unknown during preview (deferred)",
        "key-policy-too-large": "the key policy is over AWS's 32 KB limit",
    },
)


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in KEY_POLICY_TYPES:
        return
    findings = Findings(report, META)
    raw = props_of(args).get("policy")
    if raw is None:
        return
    if contains_unknown(raw):
        findings.defer(
            META.finding(
                "key-policy-unknown", label(args), "the key policy is unknown during preview"
            )
        )
        findings.finish()
    # The document as sent: the text given, or a structured value serialized compactly.
    text = raw if isinstance(raw, str) else json.dumps(raw, separators=(",", ":"))
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        findings.violation(
            META.finding(
                "key-policy-too-large",
                label(args),
                f"the key policy is {size:,} bytes, over AWS's limit of "
                f"{MAX_BYTES:,} bytes (32 KB)",
                {"bytes": size, "limit": MAX_BYTES},
            )
        )


POLICY = resource_policy(META, validate)
