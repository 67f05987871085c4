"""kms-key-policy-lockout-safe: someone keeps kms:PutKeyPolicy; no lockout-check bypass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from kmsguard.access.arn import is_account_id, is_key_arn, key_arn, parse_arn
from policies.deployer import key_account_of
from policies.meta import Findings, RuleMeta, resource_policy
from policies.rules._common import KeyPolicyInput, label, props_named
from policies.values import Unknown, as_bool

if TYPE_CHECKING:
    from kmsguard.access import Decision, Statement

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
    no_remediation=(
        "who should administer the key is the author's decision; switching "
        "bypassPolicyLockoutSafetyCheck off alone would still leave a policy nobody can change"
    ),
    codes={
        "bypass-unknown": "bypassPolicyLockoutSafetyCheck is unknown (deferred)",
        "bypass-lockout-safety-check": "bypassPolicyLockoutSafetyCheck is true",
        "key-policy-unknown": "the key policy is unknown during preview (deferred)",
        "too-many-principals-to-ask": "too many named principals to ask each (deferred)",
        "key-policy-lockout": "nobody the rule asked about may call kms:PutKeyPolicy",
    },
)

PUT = "kms:PutKeyPolicy"
# Stands for the key's account while it is unknown: only ever asked about, never printed.
_SOME_ACCOUNT = "000000000000"
# An administrator's own IAM policies are theirs to grant: the key policy is what is judged.
_ADMIN_IDENTITY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": PUT, "Resource": "*"}],
}
_MAX_CANDIDATES = 100
_MAX_CONTEXTS = 8
# Operators whose first value is a request that satisfies them.
_SATISFIED_BY_VALUE = (
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "ArnEquals",
    "ArnLike",
    "Bool",
    "NumericEquals",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
    "DateEquals",
    "IpAddress",
)


def _is_iam_principal(text: str) -> bool:
    """An account id, or an IAM/STS ARN naming one principal (no wildcard)."""
    arn = parse_arn(text)
    if arn is None:
        return is_account_id(text)
    one = "*" not in arn.resource and "?" not in arn.resource
    return arn.service in ("iam", "sts") and not arn.region and is_account_id(arn.account) and one


def _key_arn(props: dict[str, Any], account: str, name: str) -> str:
    for prop in ("arn", "keyId"):
        value = props.get(prop)
        if isinstance(value, str) and is_key_arn(value):
            return value
    return key_arn(account or _SOME_ACCOUNT, name, "us-east-1")


def _candidates(grants: list[Statement], account: str) -> list[str]:
    """The account root and every IAM principal a statement that may grant kms:PutKeyPolicy
    names: whoever could be the administrator who changes the policy later. (A principal no
    such statement names gets it only through one naming its account's root or everyone, which
    the root's own decision covers.)"""
    root = f"arn:aws:iam::{account or _SOME_ACCOUNT}:root"
    named = [
        f"arn:aws:iam::{p}:root" if p.isdigit() else p
        for st in grants
        if not st.not_principal
        for p in st.principal_names
        if _is_iam_principal(p)
    ]
    return list(dict.fromkeys([root, *named]))


def _context_meeting(st: Statement) -> dict[str, Any]:
    """Values satisfying a statement's positive conditions: the request an administrator would
    send to use a conditional grant (the evaluator still applies every Deny to it)."""
    out: dict[str, Any] = {}
    for cl in st.clauses:
        if cl.operator.base not in _SATISFIED_BY_VALUE or not cl.values:
            continue
        first = cl.values[0]
        if isinstance(first, str | int | float | bool):
            value = str(first).replace("*", "x").replace("?", "x")
            out[cl.key] = [value] if cl.operator.qualifier == "ForAnyValue" else value
    return out


def _can_change(
    doc: dict[str, Any], contexts: list[dict[str, Any]], principal: str, key_arn: str
) -> Decision:
    """The evaluator's decision on `principal` calling kms:PutKeyPolicy on the key, with no
    request context or with one meeting the conditions of a statement that could allow it."""
    from kmsguard.access import evaluate

    decision = None
    for context in contexts:
        decision = evaluate(
            principal,
            PUT,
            key_arn,
            identity_policies=[_ADMIN_IDENTITY],
            resource_policy=doc,
            context=context,
        )
        if decision.allowed:
            return decision
    assert decision is not None
    return decision


def _lockout(doc: dict[str, Any], account: str, key_arn: str) -> tuple[str, str, dict[str, Any]]:
    """(why nobody could change the policy again, what is left to verification, the facts);
    both texts "" when the root or an administrator can."""
    from kmsguard.access import EXPLICIT_DENY, PolicyDocumentError, parse_policy

    try:
        policy = parse_policy(doc, kind="resource")
    except PolicyDocumentError:
        return "", "", {}  # a policy the evaluator cannot read is kms-key-policy-valid's concern
    grants = [st for st in policy.statements if st.effect == "Allow" and st.covers(PUT)]
    # Each evaluation reads the whole policy: a bounded number of them keeps the rule linear.
    contexts = [{}, *(_context_meeting(st) for st in grants if st.clauses)]
    contexts = contexts[:_MAX_CONTEXTS]
    candidates = _candidates(grants, account)
    asked = candidates[:_MAX_CANDIDATES]
    try:
        decisions = [_can_change(doc, contexts, p, key_arn) for p in asked]
    except PolicyDocumentError:
        return "", "", {}  # a policy the evaluator cannot read is kms-key-policy-valid's concern
    if any(d.allowed for d in decisions):
        return "", "", {}
    facts: dict[str, Any] = {"asked": list(asked), "named": len(candidates) - 1}
    if len(candidates) > len(asked):
        return (
            "",
            f"the account root and {len(asked) - 1} of the {len(candidates) - 1} principals "
            f"the policy names may not call {PUT}; the others are left to verification",
            facts,
        )
    denials = [d for d in decisions if d.effect == EXPLICIT_DENY]
    if len(denials) == len(decisions):
        refs = dict.fromkeys(s.label() for d in denials for s in d.statements if s.effect == "Deny")
        return (
            (
                f"{' and '.join(refs) or 'a Deny statement'} denies {PUT} to the account root "
                "and every principal the policy names"
            ),
            "",
            {**facts, "deniedBy": list(refs)},
        )
    return (
        f"neither the account root nor any principal the policy names may call {PUT}",
        "",
        facts,
    )


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    policy = KeyPolicyInput(args)
    if not policy.applies:
        return
    findings = Findings(report, META)
    where = label(args)
    props = props_named(args, "arn", "keyId", "bypassPolicyLockoutSafetyCheck")
    bypass = as_bool(props.get("bypassPolicyLockoutSafetyCheck"))
    if isinstance(bypass, Unknown):
        findings.defer(
            META.finding(
                "bypass-unknown", where, "bypassPolicyLockoutSafetyCheck is unknown during preview"
            )
        )
    elif bypass:
        findings.violation(
            META.finding(
                "bypass-lockout-safety-check", where, "bypassPolicyLockoutSafetyCheck is true"
            )
        )
    doc = policy.document
    if isinstance(doc, Unknown):
        findings.defer(
            META.finding("key-policy-unknown", where, "the key policy is unknown during preview")
        )
    elif isinstance(doc, dict):
        account = key_account_of(props, args)
        key_arn = _key_arn(props, account, args.name)
        why, later, facts = _lockout(doc, account, key_arn)
        if later:
            findings.defer(META.finding("too-many-principals-to-ask", where, later, facts))
        if why:
            findings.violation(
                META.finding(
                    "key-policy-lockout",
                    where,
                    f"{why}; the key policy could never be changed again",
                    {**facts, "key": key_arn},
                )
            )
    findings.finish()


POLICY = resource_policy(META, validate)
