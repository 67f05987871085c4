"""kms-key-policy-no-public-principal: only the key's account and trusted ones may use the key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from kmsguard.access.arn import is_key_arn, named_accounts
from kmsguard.rule_text import NO_PUBLIC_PRINCIPAL
from policies.deployer import key_account_of
from policies.meta import Findings, RuleMeta, config_of, resource_policy, str_list
from policies.rules._common import (
    ACCOUNT_ID_ITEM,
    ORG_ID_ITEM,
    PROVER_TIMEOUT,
    KeyPolicyInput,
    hub,
    label,
    props_named,
    prover_timeout,
)
from policies.values import Unknown

if TYPE_CHECKING:
    from kmsguard.access.prove import Witness

META = RuleMeta(
    name=NO_PUBLIC_PRINCIPAL.name,
    description=NO_PUBLIC_PRINCIPAL.description,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity(NO_PUBLIC_PRINCIPAL.severity),
    remediation=NO_PUBLIC_PRINCIPAL.remediation,
    no_remediation=(
        "which principals or conditions were meant is the author's decision; a guess could lock "
        "out a legitimate caller or keep the wrong one"
    ),
    controls=(hub("KMS.5"),),
    config={
        "trustedAccounts": {
            "type": "array",
            "items": ACCOUNT_ID_ITEM,
            "default": [],
            "description": "Accounts besides the key's own whose principals may use the key.",
        },
        "trustedOrganizations": {
            "type": "array",
            "items": ORG_ID_ITEM,
            "default": [],
            "description": "Organization ids whose member accounts' principals may use the key.",
        },
        **PROVER_TIMEOUT,
    },
    codes={
        "key-policy-unknown": "the key policy is unknown during preview (deferred)",
        "key-policy-malformed": "the policy cannot be read, so it cannot be shown private",
        "prover-unanswered": "the prover could not answer in time or at all (deferred)",
        "public-access": "a principal outside the trusted accounts can use the key",
        "key-account-unknown": "access to named accounts, the key's own unknown (deferred)",
    },
)


def _describe(w: Witness) -> str:
    from kmsguard.access.catalog import describe_request

    return describe_request(w.principal, w.actions or (w.action,), w.context, w.identity_assumed)


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    policy = KeyPolicyInput(args)
    if not policy.applies or policy.error or policy.document is None:
        return  # absent or unreadable policies are kms-key-policy-valid's concern
    from kmsguard.access import PolicyDocumentError, parse_policy
    from kmsguard.access.prove import Key, no_public_access
    from kmsguard.access.prove.questions import spare_account

    findings = Findings(report, META)
    where = label(args)
    if isinstance(policy.document, Unknown):
        findings.defer(
            META.finding("key-policy-unknown", where, "the key policy is unknown during preview")
        )
        findings.finish()
    try:
        parsed = parse_policy(policy.document, kind="resource")
    except PolicyDocumentError as exc:
        # Never a silent pass: a policy nobody can read cannot be shown to be private.
        at = exc.path or "document"
        findings.violation(
            META.finding(
                "key-policy-malformed",
                where,
                f"cannot prove the key policy is not public, it is malformed at {at}: "
                f"{exc.message}",
                {"path": at, "problem": exc.message},
            )
        )
        findings.finish()
        return
    config = config_of(META, args)
    trusted = str_list(config["trustedAccounts"])
    orgs = str_list(config["trustedOrganizations"])
    props = props_named(args, "arn", "keyId")
    account = key_account_of(props, args)
    arn = props.get("arn")
    named: list[str] = []
    if is_key_arn(arn):
        key = Key(arn)
    elif account:
        key = Key.in_account(account)
    else:
        # Unknown owner: trust every account the policy names, so what is still found is
        # public whichever of them owns the key; with none named, one it does not name owns it
        # (proved with, never printed).
        named = sorted(set(named_accounts(parsed.source)) - set(trusted))
        key = Key.in_account(named[0] if named else spare_account(named_accounts(parsed.source)))
        trusted = [*trusted, *named]
    verdict = no_public_access(
        parsed, [key.account, *trusted], orgs, key=key, timeout_s=prover_timeout(config)
    )
    if verdict.status == "unknown":
        findings.defer(
            META.finding(
                "prover-unanswered",
                where,
                f"prover query no_public_access unanswered: {verdict.reason}",
                {"reason": verdict.reason},
            )
        )
    elif verdict.witness is not None:
        w = verdict.witness
        # Never the stand-in account proved with: the reader cannot tell it from a real one.
        if account:
            outside = f"outside account {key.account}"
        elif named:
            outside = (
                "outside the key's account (unknown until its ARN is known; any of "
                f"{', '.join(named)} named in the policy may be it)"
            )
        else:
            outside = "outside the key's account (unknown until its ARN is known)"
        request = {k: v for k, v in w.to_json().items() if k != "resource"}
        findings.violation(
            META.finding(
                "public-access",
                where,
                f"a principal {outside} and the trusted accounts/organizations can use the "
                f"key: {_describe(w)} ({w.why})",
                # The key's account only when known: never the stand-in proved with.
                {**request, "why": w.why, "keyAccount": account or None, "namedAccounts": named},
            )
        )
    elif not account and named:
        findings.defer(
            META.finding(
                "key-account-unknown",
                where,
                f"the policy gives access to account(s) {', '.join(named)}; whether that is the "
                "key's own account is unknown until the key's ARN is; set "
                "aws:allowedAccountIds in the stack config to judge it during preview",
                {"namedAccounts": named},
            )
        )
    findings.finish()


POLICY = resource_policy(META, validate)
