"""iam-policy-no-kms-decrypt-on-all-keys: no identity policy allows decrypt on every key."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from kmsguard.contract import AwsType
from policies.document import decrypt_on_all_keys
from policies.document import label as statement_label
from policies.managed import known_decrypt_on_all_keys, managed_policy_document, managed_policy_name
from policies.meta import Findings, RuleMeta, resource_policy
from policies.rules._common import hub, label, props_named, unknown_action_notes
from policies.values import DocumentError, Unknown, is_unknown, load_document

META = RuleMeta(
    name="iam-policy-no-kms-decrypt-on-all-keys",
    description=(
        "No identity policy in the stack (policies, inline user/role/group policies, and "
        "attachments of AWS managed policies) allows kms:Decrypt or kms:ReEncryptFrom on all keys."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation=(
        "Scope the statement's Resource to the key ARNs the principal needs (or add a "
        "kms:ViaService / aws:ResourceTag condition), and avoid attaching AWS managed policies "
        "that grant decrypt on every key."
    ),
    no_remediation=("which keys a principal needs is not known to the pack"),
    controls=(hub("KMS.1"), hub("KMS.2")),
    codes={
        "policy-unreadable": "an unreadable policy document, left to the verifier (deferred)",
        "policy-unknown": "a policy or its ARN is unknown during preview (deferred)",
        "unknown-action": "an action matches nothing in the IAM catalog (advisory)",
        "decrypt-on-all-keys": "a statement allows kms:Decrypt or ReEncryptFrom on every key",
        "managed-policy-uncatalogued": "an AWS managed policy outside the catalog (deferred)",
        "managed-policy-decrypts-all-keys": "an AWS managed policy decrypting with every key",
    },
)

_DOC_TYPES = (
    AwsType.IAM_POLICY,
    AwsType.IAM_USER_POLICY,
    AwsType.IAM_ROLE_POLICY,
    AwsType.IAM_GROUP_POLICY,
)
_ATTACH_TYPES = (
    AwsType.IAM_USER_POLICY_ATTACHMENT,
    AwsType.IAM_ROLE_POLICY_ATTACHMENT,
    AwsType.IAM_GROUP_POLICY_ATTACHMENT,
    AwsType.IAM_POLICY_ATTACHMENT,
)


def _check_doc(raw: Any, where: str, findings: Findings) -> None:
    try:
        doc = load_document(raw)
    except DocumentError as exc:
        findings.defer(
            META.finding(
                "policy-unreadable", where, f"{exc}; checked by the verifier", {"problem": str(exc)}
            )
        )
        return
    if isinstance(doc, Unknown):
        findings.defer(
            META.finding(
                "policy-unknown",
                where,
                "the policy document is unknown during preview",
                {"property": "policy"},
            )
        )
        return
    if isinstance(doc, dict):
        for message in unknown_action_notes(doc, "identity"):
            findings.advise(META.finding("unknown-action", where, message))
    for st, actions in decrypt_on_all_keys(doc):
        findings.violation(
            META.finding(
                "decrypt-on-all-keys",
                where,
                f"{statement_label(st)} allows {' and '.join(actions)} on all KMS keys "
                f"(Resource {', '.join(st.resource_patterns) or '*'})",
                {
                    "statement": statement_label(st),
                    "actions": list(actions),
                    "resources": list(st.resource_patterns),
                },
            )
        )


@lru_cache(maxsize=1024)  # the catalog's documents never change; a few are attached everywhere
def _managed_decrypts_on_all_keys(arn: str) -> bool | None:
    """Whether the AWS managed policy allows decrypting with every key; None: not catalogued."""
    name = managed_policy_name(arn)
    doc = managed_policy_document(arn)
    if name in known_decrypt_on_all_keys():
        return True
    if doc is None:
        return None
    return bool(decrypt_on_all_keys(doc))


def _check_managed(arn: Any, where: str, findings: Findings) -> None:
    if is_unknown(arn):
        findings.defer(
            META.finding(
                "policy-unknown",
                where,
                "policyArn is unknown during preview",
                {"property": "policyArn"},
            )
        )
        return
    if not isinstance(arn, str):
        return
    name = managed_policy_name(arn)
    if name is None:
        return  # customer managed policies are judged where they are declared
    decrypts = _managed_decrypts_on_all_keys(arn)
    if decrypts is None:
        # Never a silent pass: an AWS managed policy we cannot read may grant anything.
        findings.defer(
            META.finding(
                "managed-policy-uncatalogued",
                where,
                f"AWS managed policy {name} is not in the managed policy catalog",
                {"policy": name, "policyArn": arn},
            )
        )
        return
    if decrypts:
        findings.violation(
            META.finding(
                "managed-policy-decrypts-all-keys",
                where,
                f"attaches AWS managed policy {name}, which allows kms:Decrypt on all keys",
                {"policy": name, "policyArn": arn},
            )
        )


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    findings = Findings(report, META)
    # Only the properties this rule reads: most resources are none of its types.
    props = props_named(args, "policy", "policyArn", "inlinePolicies", "managedPolicyArns")
    where = label(args)
    if args.resource_type in _DOC_TYPES:
        _check_doc(props.get("policy"), where, findings)
    elif args.resource_type in _ATTACH_TYPES:
        _check_managed(props.get("policyArn"), where, findings)
    elif args.resource_type in (AwsType.IAM_ROLE, AwsType.IAM_USER, AwsType.IAM_GROUP):
        inline = props.get("inlinePolicies")
        if is_unknown(inline):
            findings.defer(
                META.finding(
                    "policy-unknown",
                    where,
                    "inlinePolicies is unknown during preview",
                    {"property": "inlinePolicies"},
                )
            )
        for i, item in enumerate(inline if isinstance(inline, list) else []):
            if is_unknown(item):
                findings.defer(
                    META.finding(
                        "policy-unknown",
                        where,
                        f"inline policy #{i} is unknown during preview",
                        {"property": f"inlinePolicies[{i}]"},
                    )
                )
            elif isinstance(item, dict):
                _check_doc(item.get("policy"), f"{where} inline policy #{i}", findings)
        arns = props.get("managedPolicyArns")
        if is_unknown(arns):
            findings.defer(
                META.finding(
                    "policy-unknown",
                    where,
                    "managedPolicyArns is unknown during preview",
                    {"property": "managedPolicyArns"},
                )
            )
        for arn in arns if isinstance(arns, list) else []:
            _check_managed(arn, where, findings)
    findings.finish()


POLICY = resource_policy(META, validate)
