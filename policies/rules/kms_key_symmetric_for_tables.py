"""kms-key-symmetric-for-tables: a key used by a table is symmetric, for encryption, enabled."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs

from kmsguard.contract import AwsType
from policies.meta import Findings, RuleMeta, stack_policy
from policies.stack.graph import StackView
from policies.stack.keys import stack_keys
from policies.values import Unknown, as_bool, is_unknown

META = RuleMeta(
    name="kms-key-symmetric-for-tables",
    description=(
        "A KMS key used by a DynamoDB table is SYMMETRIC_DEFAULT, has key usage ENCRYPT_DECRYPT "
        "and is enabled."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation=(
        "Use customerMasterKeySpec=SYMMETRIC_DEFAULT, keyUsage=ENCRYPT_DECRYPT and isEnabled=true "
        "on the key the table uses; DynamoDB supports only symmetric encryption keys."
    ),
    no_remediation=(
        "changing a key's spec or usage replaces the key, and with it every table it encrypts"
    ),
    codes={
        "key-property-unknown": "the key's spec or usage is unknown during preview (deferred)",
        "key-not-symmetric-encryption": "a table's key is not SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT",
        "key-enabled-unknown": "isEnabled of a table's key is unknown during preview (deferred)",
        "key-disabled": "a table's key is disabled",
    },
)

_EXPECTED = (
    ("customerMasterKeySpec", "keySpec", "SYMMETRIC_DEFAULT"),
    ("keyUsage", "keyUsage", "ENCRYPT_DECRYPT"),
)


def validate(args: StackValidationArgs, report: ReportViolation) -> None:
    findings = Findings(report, META)
    view = StackView.shared(args.resources)
    seen: set[str] = set()
    for table in view.of_type(AwsType.DYNAMODB_TABLE):
        key = stack_keys(view).table_key(table).node
        if key is None or key.urn in seen:
            continue
        seen.add(key.urn)
        where = f"Key {key.name!r} (used by table {table.name!r})"
        for prop, alt, expected in _EXPECTED:
            value = key.props.get(prop, key.props.get(alt)) or expected
            if is_unknown(value):
                findings.defer(
                    META.finding(
                        "key-property-unknown",
                        where,
                        f"{prop} is unknown during preview",
                        {"property": prop, "table": table.name},
                    )
                )
            elif value != expected:
                findings.violation(
                    META.finding(
                        "key-not-symmetric-encryption",
                        where,
                        f"{prop} is {value!r}, expected {expected}",
                        {"property": prop, "value": value, "expected": expected},
                        urn=key.urn,
                    )
                )
        enabled = as_bool(key.props.get("isEnabled", True))
        if isinstance(enabled, Unknown):
            findings.defer(
                META.finding(
                    "key-enabled-unknown",
                    where,
                    "isEnabled is unknown during preview",
                    {"table": table.name},
                )
            )
        elif enabled is False:
            findings.violation(
                META.finding(
                    "key-disabled",
                    where,
                    "the key is disabled, so the table is inaccessible",
                    {"table": table.name},
                    urn=key.urn,
                )
            )
    findings.finish()


POLICY = stack_policy(META, validate)
