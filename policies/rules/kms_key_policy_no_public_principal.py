"""kms-key-policy-no-public-principal: no Allow to everyone unless pinned to an account/org."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from policies.document import is_public_principal, pins_caller, statements
from policies.meta import Findings, RuleMeta, resource_policy
from policies.rules._common import KeyPolicyInput, hub, label
from policies.values import Unknown

META = RuleMeta(
    name="kms-key-policy-no-public-principal",
    description=(
        "Key policies allow no public principal ('*' or {AWS: '*'}) unless a condition pins the "
        "caller to an account or organization."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation=(
        "Name the principals explicitly, or add a condition on kms:CallerAccount, "
        "aws:PrincipalAccount, aws:PrincipalOrgID or aws:PrincipalArn to the statement."
    ),
    controls=(hub("KMS.5"),),
)


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    policy = KeyPolicyInput(args)
    if not policy.applies or policy.error or policy.document is None:
        return  # absent or unparsable policies are kms-key-policy-valid's concern
    findings = Findings(report)
    if isinstance(policy.document, Unknown):
        findings.defer(f"{label(args)}: the key policy is unknown during preview")
        findings.finish()
    for st in statements(policy.document):
        # Deny statements restrict; a public Deny is a guardrail, never an exposure.
        if not st.allows or st.principal_is_not:
            continue
        if any(is_public_principal(p) for p in st.principals) and not pins_caller(st):
            findings.violation(
                f"{label(args)}: {st.label} allows {', '.join(st.actions or st.not_actions)} to "
                "any principal ('*') without a kms:CallerAccount / aws:PrincipalAccount / "
                "aws:PrincipalOrgID / aws:PrincipalArn condition"
            )
    findings.finish()


POLICY = resource_policy(META, validate)
