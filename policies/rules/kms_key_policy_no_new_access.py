"""kms-key-policy-no-new-access: a planned key policy grants nothing its baseline does not."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from kmsguard.access.arn import is_key_arn
from kmsguard.rule_text import NO_NEW_ACCESS
from policies.deployer import key_account_of
from policies.meta import Findings, RuleMeta, config_of, resource_policy
from policies.rules._common import (
    PROVER_TIMEOUT,
    KeyPolicyInput,
    hub,
    label,
    props_named,
    prover_timeout,
)
from policies.values import Unknown

META = RuleMeta(
    name=NO_NEW_ACCESS.name,
    description=NO_NEW_ACCESS.description,
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity(NO_NEW_ACCESS.severity),
    remediation=NO_NEW_ACCESS.remediation,
    no_remediation=("whether new access is intended is for review to decide"),
    controls=(hub("KMS.5"),),
    config={
        "baselineKeyPolicy": {
            "type": "string",
            "default": "",
            "description": "The reviewed key policy as JSON text; empty: the rule is off.",
        },
        **PROVER_TIMEOUT,
    },
    codes={
        "baseline-unreadable": "the baselineKeyPolicy setting is not a key policy document",
        "key-policy-unknown": "the key policy is unknown during preview (deferred)",
        "prover-unanswered": "the prover could not answer in time or at all (deferred)",
        "new-access": "the planned policy allows a request the baseline does not",
    },
)
MAX_WITNESSES = 5


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    policy = KeyPolicyInput(args)
    if not policy.applies:
        return
    config = config_of(META, args)
    text = config["baselineKeyPolicy"]
    if not isinstance(text, str) or not text.strip():
        return
    from kmsguard.access import PolicyDocumentError, parse_policy
    from kmsguard.access.prove import Key, no_new_access

    findings = Findings(report, META)
    try:
        baseline = parse_policy(text, kind="resource")
    except PolicyDocumentError as exc:
        findings.violation(
            META.finding(
                "baseline-unreadable",
                "policy config baselineKeyPolicy",
                f"{exc}; it must be a key policy document as JSON text",
            )
        )
        findings.finish()
        return
    if policy.error or policy.document is None:
        return  # unreadable planned policies are kms-key-policy-valid's concern
    if isinstance(policy.document, Unknown):
        findings.defer(
            META.finding(
                "key-policy-unknown", label(args), "the key policy is unknown during preview"
            )
        )
        findings.finish()
    try:
        planned = parse_policy(policy.document, kind="resource")
    except PolicyDocumentError:
        return  # kms-key-policy-valid reports it
    props = props_named(args, "arn", "keyId")
    arn = props.get("arn")
    account = key_account_of(props, args)
    # Unknown account: no key, so the prover asks about every account that may own it.
    key = Key(arn) if is_key_arn(arn) else Key.in_account(account) if account else None
    verdict = no_new_access(
        baseline, planned, key=key, timeout_s=prover_timeout(config), limit=MAX_WITNESSES
    )
    if verdict.status == "unknown":
        findings.defer(
            META.finding(
                "prover-unanswered",
                label(args),
                f"prover query no_new_access unanswered: {verdict.reason}",
                {"reason": verdict.reason},
            )
        )
    for w in verdict.witnesses:
        findings.violation(
            META.finding(
                "new-access",
                label(args),
                f"grants what the baseline key policy does not: {w.describe()} ({w.why})",
                {**w.to_json(), "why": w.why},
            )
        )
    findings.finish()


POLICY = resource_policy(META, validate)
