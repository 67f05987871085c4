"""kms-key-policy-least-privilege: separation of duties and narrow grants in key policies."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from kmsguard.access.arn import account_of
from kmsguard.contract import GRANT_IS_FOR_AWS_RESOURCE, KEY_ADMIN_ACTIONS
from policies.deployer import key_account_of
from policies.document import (
    allows,
    is_account_root,
    requires_condition_true,
    statements,
    written_actions,
)
from policies.document import (
    label as statement_label,
)
from policies.meta import Findings, RuleMeta, config_of, resource_policy, str_list
from policies.rules._common import KeyPolicyInput, label, props_named
from policies.values import Unknown

if TYPE_CHECKING:
    from kmsguard.access import Statement

META = RuleMeta(
    name="kms-key-policy-least-privilege",
    description=(
        "Beside the account-root delegation, no key policy statement grants kms:*, * or NotAction; "
        "key users get only usage actions, administrators no cryptographic actions, CreateGrant "
        "only for AWS resources, and decrypt only to the allowed key users."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation=(
        "Split the policy into an administrators statement (management actions only), a key "
        "users statement (Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*, DescribeKey) and a "
        "grants statement conditioned on kms:GrantIsForAWSResource=true; list only allowed key "
        "users as principals of decrypting statements."
    ),
    no_remediation=(
        "which actions each principal needs is the author's decision; removing them by rule "
        "could break the application"
    ),
    config={
        "allowedKeyUsers": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "When non-empty, the only principals that may be granted decrypt.",
        },
        "adminCryptoActionsAllowed": {
            "type": "boolean",
            "default": False,
            "description": "Allow administrator statements to also grant cryptographic actions.",
        },
    },
    codes={
        "key-policy-unknown": "the key policy is unknown during preview (deferred)",
        "root-grant-account-unknown": "a grant to a root whose account may be the key's (deferred)",
        "allow-not-action": "an Allow with NotAction beside the root delegation",
        "wildcard-action": "an Allow of every KMS action beside the root delegation",
        "admin-with-crypto": "one statement gives key administration and cryptographic use",
        "create-grant-unconditioned": "kms:CreateGrant without kms:GrantIsForAWSResource=true",
        "decrypt-outside-allowed-users": "a principal outside allowedKeyUsers may decrypt",
    },
)

# Cryptographic operations (use of the key material), per the KMS authorization reference.
CRYPTO_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateMac",
    "kms:VerifyMac",
    "kms:Sign",
    "kms:Verify",
    "kms:DeriveSharedSecret",
)
DECRYPTING = ("kms:Decrypt", "kms:ReEncryptFrom")
# Actions a key user may also hold: read-only metadata and the AWS-resource grant trio.
USER_EXTRA = (
    "kms:DescribeKey",
    "kms:GetPublicKey",
    "kms:ListGrants",
    "kms:RevokeGrant",
    "kms:CreateGrant",
)


@lru_cache(maxsize=1)
def admin_only_actions() -> tuple[str, ...]:
    """Management actions of the catalog (the admin patterns minus read-only and grant ones)."""
    from kmsguard.access import expand_actions
    from kmsguard.access.matching import compile_globs

    out: set[str] = set()
    for pattern in KEY_ADMIN_ACTIONS:
        out.update(expand_actions(pattern))
    readonly = compile_globs(
        ("kms:Describe*", "kms:List*", "kms:Get*", "kms:CreateGrant", "kms:RevokeGrant"),
        fold_case=True,
    )
    return tuple(sorted(a for a in out if not readonly.matches(a.lower())))


@lru_cache(maxsize=1)
def all_kms_actions() -> tuple[str, ...]:
    from kmsguard.access import expand_actions

    return tuple(expand_actions("kms:*"))


def _is_root_delegation(st: Statement, account: str) -> bool:
    """The key's own account root, unconditioned: delegation to IAM, not a grant.

    Another account's root with kms:* is a full cross-account grant and is judged like any
    other principal.
    """
    names = st.principal_names
    return (
        bool(names)
        and all(is_account_root(p) and account_of(p) == account for p in names)
        and not st.conditioned
    )


def _root_only(st: Statement) -> bool:
    names = st.principal_names
    return bool(names) and all(is_account_root(p) for p in names)


@lru_cache(maxsize=1024)  # the same few patterns recur in every key policy
def _is_wide(pattern: str) -> bool:
    """A pattern covering every KMS action (`*`, `kms:*`, `KMS:*`, `kms:*?*`...)."""
    from kmsguard.access.matching import compile_globs

    wide = compile_globs([pattern.strip()], fold_case=True)
    return all(wide.matches(a.lower()) for a in all_kms_actions())


def _check(
    st: Statement, allowed_users: list[str], admin_crypto: bool, where: str, findings: Findings
) -> None:
    who = ", ".join(st.principal_names) or "(no principal)"
    ref = statement_label(st)
    facts: dict[str, Any] = {"statement": ref, "principals": list(st.principal_names)}
    if st.not_action:
        findings.violation(
            META.finding(
                "allow-not-action",
                where,
                f"{ref} allows NotAction (everything but {', '.join(written_actions(st))}) "
                f"to {who}",
                {**facts, "notAction": list(written_actions(st))},
            )
        )
        return
    wide = [a for a in written_actions(st) if _is_wide(a)]
    if wide:
        findings.violation(
            META.finding(
                "wildcard-action",
                where,
                f"{ref} grants {wide[0]} to {who}",
                {**facts, "action": wide[0]},
            )
        )
        return
    crypto = [a for a in CRYPTO_ACTIONS if st.covers(a)]
    # The administration actions matter only beside cryptographic ones (and are many).
    admin = [a for a in admin_only_actions() if st.covers(a)] if crypto and not admin_crypto else []
    if crypto and admin and not admin_crypto:
        findings.violation(
            META.finding(
                "admin-with-crypto",
                where,
                f"{ref} gives {who} both key administration ({', '.join(admin[:3])}"
                f"{', ...' if len(admin) > 3 else ''}) and cryptographic use "
                f"({', '.join(crypto[:3])}{', ...' if len(crypto) > 3 else ''}); "
                "administrators get no cryptographic actions",
                {**facts, "administration": admin, "cryptographic": crypto},
            )
        )
    if st.covers("kms:CreateGrant") and not requires_condition_true(st, GRANT_IS_FOR_AWS_RESOURCE):
        findings.violation(
            META.finding(
                "create-grant-unconditioned",
                where,
                f"{ref} allows kms:CreateGrant to {who} without {GRANT_IS_FOR_AWS_RESOURCE}=true",
                facts,
            )
        )
    if allowed_users and any(st.covers(a) for a in DECRYPTING):
        extra = [p for p in st.principal_names if p not in allowed_users]
        if extra:
            findings.violation(
                META.finding(
                    "decrypt-outside-allowed-users",
                    where,
                    f"{ref} lets {', '.join(extra)} decrypt, outside allowedKeyUsers",
                    {**facts, "outside": extra},
                )
            )


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    policy = KeyPolicyInput(args)
    if not policy.applies or policy.error or policy.document is None:
        return
    findings = Findings(report, META)
    if isinstance(policy.document, Unknown):
        findings.defer(
            META.finding(
                "key-policy-unknown", label(args), "the key policy is unknown during preview"
            )
        )
        findings.finish()
    config = config_of(META, args)
    allowed_users = str_list(config["allowedKeyUsers"])
    admin_crypto = config["adminCryptoActionsAllowed"] is True
    sts = statements(policy.document)
    account = key_account_of(props_named(args, "arn", "keyId"), args)
    for st in sts:
        if not allows(st) or _is_root_delegation(st, account):
            continue
        if not account and _root_only(st) and not st.conditioned:
            # Delegation to the key's own account or a full grant to another one: which, only
            # the key's account can tell.
            findings.defer(
                META.finding(
                    "root-grant-account-unknown",
                    label(args),
                    f"{statement_label(st)} gives {', '.join(st.principal_names)} access; "
                    "whether that is the key's own account (delegation to IAM) or another "
                    "account is unknown until the key's ARN is; set aws:allowedAccountIds in "
                    "the stack config to judge it during preview",
                    {"statement": statement_label(st), "principals": list(st.principal_names)},
                )
            )
            continue
        _check(st, allowed_users, admin_crypto, label(args), findings)
    findings.finish()


POLICY = resource_policy(META, validate)
