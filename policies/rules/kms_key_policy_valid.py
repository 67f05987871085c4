"""kms-key-policy-valid: the key policy parses, is well formed, names real actions."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from policies.document import allows
from policies.document import label as statement_label
from policies.meta import Findings, RuleMeta, resource_policy
from policies.rules._common import KeyPolicyInput, label, unknown_action_notes
from policies.values import Unknown

META = RuleMeta(
    name="kms-key-policy-valid",
    description=(
        "Key policies are valid JSON, their statements are well formed, every action exists in "
        "the AWS catalog, and no Allow statement uses NotPrincipal."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation=(
        "Fix the document at the reported path; use actions from the KMS service authorization "
        "reference, and name principals with Principal rather than Allow with NotPrincipal."
    ),
    no_remediation=(
        "a malformed document or a misspelt action has no single meaning the pack could restore"
    ),
    codes={
        "key-policy-unreadable": "the policy is not a JSON object, or not text",
        "key-policy-unknown": "the key policy is unknown during preview (deferred)",
        "key-policy-malformed": "the policy breaks the policy grammar (first problem named)",
        "unknown-action": "an action matches nothing in the IAM catalog",
        "allow-with-not-principal": "an Allow statement uses NotPrincipal",
    },
)


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    policy = KeyPolicyInput(args)
    if not policy.applies:
        return
    from kmsguard.access import parse_policy

    findings = Findings(report, META)
    where = label(args)
    if policy.error:
        findings.violation(META.finding("key-policy-unreadable", where, policy.error))
    elif isinstance(policy.document, Unknown):
        findings.defer(
            META.finding("key-policy-unknown", where, "the key policy is unknown during preview")
        )
    elif isinstance(policy.document, dict):
        doc = policy.document
        parsed = parse_policy(doc, kind="resource", tolerant=True)
        if parsed.problems:
            exc = parsed.problems[0]
            at = exc.path or "document"
            findings.violation(
                META.finding(
                    "key-policy-malformed",
                    where,
                    f"malformed key policy at {at}: {exc.message}",
                    {"path": at, "problem": exc.message},
                )
            )
        else:
            notes = unknown_action_notes(doc, "resource")
            if notes:
                findings.violation(
                    META.finding("unknown-action", where, "; ".join(notes), {"notes": notes})
                )
        for st in parsed.statements:
            if allows(st) and st.not_principal:
                findings.violation(
                    META.finding(
                        "allow-with-not-principal",
                        where,
                        f"{statement_label(st)} is an Allow with NotPrincipal, which grants the "
                        "key to everyone not listed",
                        {"statement": statement_label(st)},
                    )
                )
    findings.finish()


POLICY = resource_policy(META, validate)
