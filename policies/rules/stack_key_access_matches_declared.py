"""stack-key-access-matches-declared: who can really decrypt with each key is who was declared."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs

from kmsguard.contract import (
    AwsType,
    account_root_arn,
    dynamodb_service_endpoint,
)
from policies.document import covers, is_account_root, statements
from policies.meta import Findings, RuleMeta, config_of, stack_policy, str_list
from policies.stack import Node, Principal, StackView
from policies.values import Unknown

META = RuleMeta(
    name="stack-key-access-matches-declared",
    description=(
        "For each KMS key and IAM principal in the stack, effective kms:Decrypt access (key "
        "policy, root delegation and identity policies together) is held only by declared key "
        "users: principals the key policy names in usage statements, plus configured extras."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation=(
        "Remove the identity policy statement that grants kms:Decrypt on the key (or on '*'), or "
        "declare the principal as a key user in the key policy; without root delegation IAM "
        "policies alone cannot grant key use."
    ),
    config={
        "extraDeclaredKeyUsers": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Principal ARNs allowed to decrypt besides the key policy's key users.",
        },
        "accountId": {
            "type": "string",
            "default": "",
            "description": "The stack's account id; inferred from the stack's ARNs when empty.",
        },
    },
)

ACTION = "kms:Decrypt"


def declared_users(doc: dict[str, Any]) -> set[str]:
    """Principals named in Allow statements granting kms:Decrypt (account root excluded).

    Decrypt itself, not any usage action: an administrators' statement covers kms:DescribeKey
    through kms:Describe*, and must not make administrators declared key users.
    """
    out: set[str] = set()
    for st in statements(doc):
        if st.allows and not st.principal_is_not and covers(st, ACTION):
            out.update(p for p in st.principals if p != "*" and not is_account_root(p))
    return out


def _default_policy(account: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": account_root_arn(account)},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def _may_decrypt(docs: list[dict[str, Any]]) -> bool:
    return any(s.allows and covers(s, ACTION) for d in docs for s in statements(d))


def _path(decision: Any, doc: dict[str, Any], p: Principal) -> str:
    sts = statements(doc)
    via: list[str] = []
    for ref in decision.statements:
        if ref.policy == "resource":
            st = sts[ref.index] if 0 <= ref.index < len(sts) else None
            if st is not None and st.principals and all(is_account_root(x) for x in st.principals):
                via.append(f"root delegation ({ref.label()})")
            else:
                via.append(f"key policy {ref.label()}")
        elif ref.policy.startswith("identity["):
            i = int(ref.policy[len("identity[") : -1])
            origin = p.policies[i].origin if i < len(p.policies) else ref.policy
            via.append(f"identity policy {origin} ({ref.label()})")
    return " + ".join(via) or decision.reason


def _check_key(
    view: StackView,
    key: Node,
    principals: list[Principal],
    may_decrypt: dict[int, bool],
    extra: list[str],
    findings: Findings,
) -> None:
    policies = view.key_policies(key)
    where = f"Key {key.name!r}"
    if len(policies) > 1:
        findings.defer(
            f"{where}: has both {' and '.join(o for _, o in policies)}; AWS keeps whichever "
            "was applied last, so each is checked; declare the policy in one place"
        )
    for doc, origin in policies:
        _check_policy(view, key, doc, origin, principals, may_decrypt, extra, findings)


def _check_policy(
    view: StackView,
    key: Node,
    doc: dict[str, Any] | Unknown | None,
    origin: str,
    principals: list[Principal],
    may_decrypt: dict[int, bool],
    extra: list[str],
    findings: Findings,
) -> None:
    where = f"Key {key.name!r}" + (f" ({origin})" if origin.startswith("KeyPolicy") else "")
    if isinstance(doc, Unknown):
        findings.defer(f"{where}: the key policy ({origin}) is unknown during preview")
        return
    if doc is None:
        if not view.account_id:
            findings.defer(f"{where}: default key policy but the account id is unknown")
            return
        doc = _default_policy(view.account_id)
    from kmsguard.access import PolicyDocumentError, who_can

    declared = declared_users(doc) | set(extra)
    # Only a wildcard principal in the key policy, or an identity policy that can allow decrypt
    # (through root delegation), can give access to someone the key policy does not name.
    open_key = any(s.allows and any("*" in p for p in s.principals) for s in statements(doc))
    key_arn = view.key_arn(key)
    contexts = (None, {"kms:ViaService": dynamodb_service_endpoint(view.region())})
    for p in principals:
        if p.arn is None:
            findings.defer(
                f"{where}: the ARN of {p.kind} {p.node.name!r} is unknown during preview"
            )
            continue
        unknown = [d for d in p.policies if isinstance(d.document, Unknown)]
        docs = [d.document for d in p.policies if isinstance(d.document, dict)]
        if not open_key and p.arn not in declared and not unknown and not may_decrypt[id(p)]:
            continue
        try:
            decisions = [
                who_can(ACTION, key_arn, doc, {p.arn: docs}, ctx)[p.arn] for ctx in contexts
            ]
        except PolicyDocumentError as exc:
            findings.defer(f"{where}: cannot evaluate access of {p.arn}: {exc}")
            continue
        allowed = next((d for d in decisions if d.allowed), None)
        if allowed is not None and p.arn not in declared:
            findings.violation(
                f"{where}: {p.arn} can {ACTION} but is not a declared key user; path: "
                f"{_path(allowed, doc, p)}",
                p.node.urn,
            )
        elif allowed is None and unknown and p.arn not in declared:
            reasons = ", ".join(d.problem or f"{d.origin} unknown" for d in unknown)
            findings.defer(
                f"{where}: access of {p.arn} depends on policies unknown now ({reasons})"
            )


def validate(args: StackValidationArgs, report: ReportViolation) -> None:
    findings = Findings(report)
    config = config_of(META, args)
    account = config["accountId"] if isinstance(config["accountId"], str) else ""
    view = StackView(args.resources, account)
    principals = view.principals()
    extra = str_list(config["extraDeclaredKeyUsers"])
    may_decrypt = {
        id(p): _may_decrypt([d.document for d in p.policies if isinstance(d.document, dict)])
        for p in principals
    }
    for key in view.of_type(AwsType.KMS_KEY):
        _check_key(view, key, principals, may_decrypt, extra, findings)
    findings.finish()


POLICY = stack_policy(META, validate)
