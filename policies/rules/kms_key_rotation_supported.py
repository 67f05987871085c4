"""kms-key-rotation-supported: automatic rotation is asked only of keys AWS can rotate."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from kmsguard.contract import AwsType
from policies.meta import Findings, RuleMeta, resource_policy
from policies.rules._common import label, props_of
from policies.values import Unknown, as_bool, is_unknown

META = RuleMeta(
    name="kms-key-rotation-supported",
    description=(
        "Automatic rotation is enabled only on symmetric encryption keys (SYMMETRIC_DEFAULT, "
        "ENCRYPT_DECRYPT) outside custom key stores; AWS rejects it on asymmetric and HMAC keys "
        "when the update is applied."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    remediation=(
        "Set enableKeyRotation=false on asymmetric, HMAC and custom key store keys; rotate them "
        "by creating a new key and moving the alias to it."
    ),
    no_remediation=(
        "only symmetric encryption keys rotate automatically; changing a key's spec replaces "
        "the key and loses what it encrypted"
    ),
    codes={
        "rotation-unknown": "enableKeyRotation is unknown during preview (deferred)",
        "key-spec-unknown": "key spec, usage or key store is unknown during preview (deferred)",
        "rotation-on-unsupported-key-spec": "rotation requested on an asymmetric or HMAC key",
        "rotation-in-custom-key-store": "rotation requested on a key in a custom key store",
    },
)


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != AwsType.KMS_KEY:
        return
    findings = Findings(report, META)
    props = props_of(args)
    enabled = as_bool(props.get("enableKeyRotation"))
    if enabled is not True:
        if isinstance(enabled, Unknown):
            findings.defer(
                META.finding(
                    "rotation-unknown", label(args), "enableKeyRotation is unknown during preview"
                )
            )
        findings.finish()
        return
    spec = props.get("customerMasterKeySpec", props.get("keySpec")) or "SYMMETRIC_DEFAULT"
    usage = props.get("keyUsage") or "ENCRYPT_DECRYPT"
    store = props.get("customKeyStoreId")
    if is_unknown(spec) or is_unknown(usage) or is_unknown(store):
        findings.defer(
            META.finding(
                "key-spec-unknown",
                label(args),
                "key spec, usage or key store is unknown during preview",
            )
        )
    elif spec != "SYMMETRIC_DEFAULT" or usage != "ENCRYPT_DECRYPT":
        findings.violation(
            META.finding(
                "rotation-on-unsupported-key-spec",
                label(args),
                f"enableKeyRotation is true on a {spec} key for {usage}; AWS rotates "
                "only symmetric encryption keys and rejects this when applying",
                {"keySpec": spec, "keyUsage": usage},
            )
        )
    elif store:
        findings.violation(
            META.finding(
                "rotation-in-custom-key-store",
                label(args),
                f"enableKeyRotation is true on a key in custom key store {store!r}; "
                "AWS does not rotate keys in custom key stores",
                {"customKeyStoreId": store},
            )
        )
    findings.finish()


POLICY = resource_policy(META, validate)
