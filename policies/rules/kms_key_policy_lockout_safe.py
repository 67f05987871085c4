"""kms-key-policy-lockout-safe: someone keeps kms:PutKeyPolicy; no lockout-check bypass."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from policies.document import Statement, covers, is_public_principal, statements
from policies.meta import Findings, RuleMeta, resource_policy
from policies.rules._common import KeyPolicyInput, label, props_of
from policies.values import Unknown, as_bool

META = RuleMeta(
    name="kms-key-policy-lockout-safe",
    description=(
        "Key policies leave an administrator or the account root able to call kms:PutKeyPolicy, "
        "and bypassPolicyLockoutSafetyCheck is never true."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation=(
        "Keep a statement allowing kms:PutKeyPolicy (kms:Put*) to the key administrators or the "
        "account root, and remove bypassPolicyLockoutSafetyCheck (or set it to false)."
    ),
)

PUT = "kms:PutKeyPolicy"
_NON_IAM = ("Service:", "Federated:", "CanonicalUser:")


def _denied(st: Statement, principal: str) -> bool:
    if st.principal_is_not:
        return principal not in st.principals
    return principal in st.principals or any(is_public_principal(p) for p in st.principals)


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    policy = KeyPolicyInput(args)
    if not policy.applies:
        return
    findings = Findings(report)
    bypass = as_bool(props_of(args).get("bypassPolicyLockoutSafetyCheck"))
    if isinstance(bypass, Unknown):
        findings.defer(f"{label(args)}: bypassPolicyLockoutSafetyCheck is unknown during preview")
    elif bypass:
        findings.violation(f"{label(args)}: bypassPolicyLockoutSafetyCheck is true")
    doc = policy.document
    if isinstance(doc, Unknown):
        findings.defer(f"{label(args)}: the key policy is unknown during preview")
    elif isinstance(doc, dict):
        sts = statements(doc)
        # A Deny on PutKeyPolicy for everyone, unconditioned, locks the key whatever else says.
        blanket_deny = [
            s
            for s in sts
            if s.effect == "Deny"
            and covers(s, PUT)
            and not s.condition
            and (s.principal_is_not is False and any(is_public_principal(p) for p in s.principals))
        ]
        # Only IAM principals can call PutKeyPolicy later; a service principal keeps nothing.
        keepers = {
            p
            for s in sts
            if s.allows and not s.principal_is_not and covers(s, PUT)
            for p in s.principals
            if not is_public_principal(p) and not p.startswith(_NON_IAM)
        }
        # An unconditioned Deny naming a keeper (or excluding it from NotPrincipal) removes it.
        for s in sts:
            if s.effect == "Deny" and covers(s, PUT) and not s.condition:
                keepers = {p for p in keepers if not _denied(s, p)}
        if blanket_deny:
            findings.violation(
                f"{label(args)}: {blanket_deny[0].label} denies {PUT} to everyone; "
                "the key policy could never be changed again"
            )
        elif not keepers:
            findings.violation(
                f"{label(args)}: no statement allows {PUT} to an administrator or the account "
                "root; the key policy could never be changed again"
            )
    findings.finish()


POLICY = resource_policy(META, validate)
