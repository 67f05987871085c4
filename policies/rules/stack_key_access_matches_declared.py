"""stack-key-access-matches-declared: who can really decrypt with each key is who was declared."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs

from kmsguard.access.arn import account_of
from kmsguard.access.key_users import decrypt_grantees
from kmsguard.contract import AwsType
from kmsguard.org_policies import OrgPolicies
from policies.document import allows, is_account_root, statements
from policies.grants import key_grants
from policies.meta import Findings, RuleMeta, config_of, stack_policy, str_list
from policies.rules._common import PROVER_TIMEOUT, prover_timeout
from policies.rules._principals import PrincipalReach
from policies.rules._stack_access_assumers import assumers
from policies.rules._stack_access_common import ACTION, ASSUME, default_key_policy
from policies.rules._stack_access_direct import direct_users
from policies.rules._stack_access_grants import check_grant
from policies.rules._stack_access_org import read_org
from policies.rules._stack_access_outsiders import outsiders
from policies.stack.graph import Node, StackView
from policies.stack.keys import stack_keys
from policies.stack.principals import StackSubject, stack_subjects
from policies.values import Unknown

META = RuleMeta(
    name="stack-key-access-matches-declared",
    description=(
        "For each KMS key and IAM principal in the stack, effective kms:Decrypt access (key "
        "policy, root delegation, identity policies, permission boundaries, the organization's "
        "SCPs/RCPs and the key's grants together) is held only by declared key users: "
        "principals the key policy names in usage statements, plus configured extras. Whoever "
        "can become a role that can decrypt (sts:AssumeRole through its trust policy, "
        "transitively) can decrypt too."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation=(
        "Remove the identity policy statement that grants kms:Decrypt on the key (or on '*'), or "
        "the grant that gives it, or declare the principal as a key user in the key policy; "
        "without root delegation IAM policies alone cannot grant key use. For a key-user role, "
        "let its trust policy name only declared key users (never '*' or another account)."
    ),
    config={
        "extraDeclaredKeyUsers": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Principal ARNs allowed to decrypt besides the key policy's key users.",
        },
        "serviceControlPolicies": {
            "type": "array",
            "items": {"type": "object"},
            "default": [],
            "description": (
                "The organization's SCP documents (JSON), one per level (root, OUs, account): "
                "each must allow."
            ),
        },
        "resourceControlPolicies": {
            "type": "array",
            "items": {"type": "object"},
            "default": [],
            "description": (
                "The organization's RCP documents (JSON), one per level: each must allow."
            ),
        },
        "accountId": {
            "type": "string",
            "default": "",
            "description": "The stack's account id; inferred from the stack's ARNs when empty.",
        },
        **PROVER_TIMEOUT,
    },
    codes={
        "org-policy-malformed": "an SCP or RCP in the policy config is not a valid policy",
        "key-policy-in-two-places": "an inline policy and an aws.kms.KeyPolicy (deferred)",
        "key-policy-unknown": "the key policy is unknown during preview (deferred)",
        "key-account-unknown": "the key has AWS's default policy and no known account (deferred)",
        "principal-arn-unknown": "a stack principal's ARN is unknown during preview (deferred)",
        "principal-policies-unknown": "a principal's policies are unknown (deferred)",
        "evaluation-failed": "the evaluator cannot read a policy or grant involved (deferred)",
        "undeclared-key-user": "a stack principal that is not a declared key user can decrypt",
        "outsiders-account-unknown": "outsiders wait for the key's account (deferred)",
        "prover-unanswered": "the prover could not answer in time or at all (deferred)",
        "outsiders-stopped-by-scps": "outsiders found are all stopped by the SCPs (deferred)",
        "undeclared-outsider": "a principal outside the stack can decrypt",
        "trust-policy-unknown": "a decrypting role's trust policy is unknown (deferred)",
        "trust-policy-unreadable": "a decrypting role's trust policy cannot be read (deferred)",
        "role-assumable-by-undeclared": "undeclared principals can assume a role that can decrypt",
        "grant-unknown": "a grant on the key cannot be read during preview (deferred)",
        "grant-malformed": "a grant on the key is not a valid grant",
        "undeclared-grantee": "a grant lets a principal that is not a declared key user decrypt",
    },
)

# Kinds of principal (and accounts) the prover lists outside the stack before it stops. The
# SCPs judge only the key's own account, which has fewer kinds (user, role, session): a list
# cut short with all its witnesses stopped by them ends in a deferral, never a pass.
OUTSIDER_KINDS = 8


def _check_key(
    view: StackView,
    key: Node,
    principals: list[StackSubject],
    reach: PrincipalReach,
    compiled: dict[int, Any],
    extra: list[str],
    findings: Findings,
    org: OrgPolicies,
    timeout_s: float,
    assume: PrincipalReach,
) -> None:
    policies = stack_keys(view).key_policies(key)
    where = f"Key {key.name!r}"
    if len(policies) > 1:
        findings.defer(
            META.finding(
                "key-policy-in-two-places",
                where,
                f"has both {' and '.join(o for _, o in policies)}; AWS keeps whichever was "
                "applied last, so each is checked; declare the policy in one place",
                {"origins": [o for _, o in policies]},
            )
        )
    for doc, origin in policies:
        _check_policy(
            view,
            key,
            doc,
            origin,
            principals,
            reach,
            compiled,
            extra,
            findings,
            org,
            timeout_s,
            assume,
        )


def _check_policy(
    view: StackView,
    key: Node,
    doc: dict[str, Any] | Unknown | None,
    origin: str,
    principals: list[StackSubject],
    reach: PrincipalReach,
    compiled: dict[int, Any],
    extra: list[str],
    findings: Findings,
    org: OrgPolicies,
    timeout_s: float,
    assume: PrincipalReach,
) -> None:
    where = f"Key {key.name!r}" + (f" ({origin})" if origin.startswith("KeyPolicy") else "")
    if isinstance(doc, Unknown):
        findings.defer(
            META.finding(
                "key-policy-unknown",
                where,
                f"the key policy ({origin}) is unknown during preview",
                {"origin": origin},
            )
        )
        return
    keys = stack_keys(view)
    key_account = keys.key_account(key)
    if doc is None:
        if not key_account:
            findings.defer(
                META.finding(
                    "key-account-unknown", where, "default key policy but the account id is unknown"
                )
            )
            return
        doc = default_key_policy(key_account)
    sts = statements(doc)
    grantees = decrypt_grantees(sts)
    declared = {p for p in grantees if p != "*" and not is_account_root(p)} | set(extra)
    # Only a wildcard principal in the key policy, or an identity policy that can allow decrypt
    # (through root delegation), can give access to someone the key policy does not name.
    # Allow with NotPrincipal opens the key to everyone it does not list.
    open_key = any(
        allows(s) and (s.not_principal or any("*" in p for p in s.principal_names)) for s in sts
    )
    key_arn = keys.key_arn(key)
    # Only these can hold access the key policy does not declare; the others are never
    # evaluated, so the rule stays linear in the stack.
    candidates = (
        principals
        if open_key
        else reach.for_resource(keys.key_identifiers(key) | {key_arn}, declared)
    )
    decrypters = direct_users(
        view, key, key_arn, doc, where, candidates, declared, compiled, findings, org
    )
    assumers(view, where, decrypters, assume, declared, compiled, findings, org)
    if key_account:
        # The key's own account is closed to the prover (nobody there holds an identity policy
        # it is not shown), so its unnamed principals can never be a witness.
        # Any principal of an account whose root is a grantee may be allowed.
        rooted = {a for p in grantees if is_account_root(p) and (a := account_of(p))}
        foreign = rooted - {key_account}
        inside = principals if open_key else reach.in_accounts(foreign)
        outsiders(key_arn, doc, where, inside, declared, findings, org, timeout_s, OUTSIDER_KINDS)
    else:
        # Who is outside depends on the key's own account (its root delegates to that account's
        # IAM), and a placeholder account would make the own root look foreign.
        findings.defer(
            META.finding(
                "outsiders-account-unknown",
                where,
                f"who else can {ACTION} depends on the key's account, unknown until its ARN "
                "is; set aws:allowedAccountIds in the stack config to judge it during preview",
            )
        )
    for sg in key_grants(view, key):
        if sg.grant is None:
            findings.defer(
                META.finding(
                    "grant-unknown",
                    where,
                    f"{sg.label}: {sg.problem}",
                    {"grant": sg.label, "problem": sg.problem},
                )
            )
        else:
            check_grant(where, key_arn, doc, sg, reach, declared, findings, org)


def validate(args: StackValidationArgs, report: ReportViolation) -> None:
    findings = Findings(report, META)
    config = config_of(META, args)
    account = config["accountId"] if isinstance(config["accountId"], str) else ""
    view = StackView.shared(args.resources, account)
    principals = stack_subjects(view)
    extra = str_list(config["extraDeclaredKeyUsers"])
    reach = PrincipalReach(principals, ACTION)
    assume = PrincipalReach(principals, ASSUME)
    compiled: dict[int, Any] = {}
    org = read_org(config, findings)
    if org is None:
        findings.finish()
        return
    for key in view.of_type(AwsType.KMS_KEY):
        _check_key(
            view,
            key,
            principals,
            reach,
            compiled,
            extra,
            findings,
            org,
            prover_timeout(config),
            assume,
        )
    findings.finish()


POLICY = stack_policy(META, validate)
