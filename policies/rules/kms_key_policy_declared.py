"""kms-key-policy-declared: every key declares its key policy instead of taking AWS's default."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs

from kmsguard.contract import AwsType
from policies.meta import Findings, RuleMeta, stack_policy
from policies.stack.graph import StackView
from policies.stack.keys import stack_keys

META = RuleMeta(
    name="kms-key-policy-declared",
    description=(
        "Every aws.kms.Key has a key policy in the stack (its policy property or an "
        "aws.kms.KeyPolicy); without one AWS silently applies its default key policy, which "
        "gives the account root kms:* and leaves access entirely to IAM policies. Advisory by "
        "default; set it to mandatory to require declared policies."
    ),
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    remediation=(
        "Give the key a policy (policy=json.dumps(...) on aws.kms.Key, or an aws.kms.KeyPolicy "
        "for it) naming its administrators and users; kmsguard.keypolicy.build_key_policy "
        "builds one."
    ),
    codes={
        "key-policy-not-declared": "a key has no policy in the stack, so AWS's default applies",
    },
)


def validate(args: StackValidationArgs, report: ReportViolation) -> None:
    findings = Findings(report, META)
    view = StackView.shared(args.resources)
    for key in view.of_type(AwsType.KMS_KEY):
        policies = stack_keys(view).key_policies(key)
        if all(doc is None for doc, _ in policies):
            findings.violation(
                META.finding(
                    "key-policy-not-declared",
                    f"Key {key.name!r}",
                    "no key policy is declared, so AWS applies its default key policy (the "
                    "account root gets kms:*; access is decided by IAM policies alone)",
                    urn=key.urn,
                )
            )
    findings.finish()


POLICY = stack_policy(META, validate)
