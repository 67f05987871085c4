"""stack-key-access-matches-declared: who can really decrypt with each key is who was declared."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs

from kmsguard.access.arn import account_of, parse_arn
from kmsguard.access.dynamodb_context import decrypt_context, via_dynamodb
from kmsguard.access.key_users import decrypt_grantees
from kmsguard.access.trust import Chain
from kmsguard.contract import AwsType, account_root_arn
from policies.document import allows, is_account_root, statements
from policies.grants import StackGrant, key_grants, satisfying_context
from policies.meta import Findings, RuleMeta, config_of, stack_policy, str_list
from policies.rules._common import PROVER_TIMEOUT, prover_timeout
from policies.rules._principals import PrincipalReach, boundary_of, readable, unknown_reasons
from policies.stack.graph import Node, StackView
from policies.stack.keys import stack_keys
from policies.stack.principals import StackSubject, stack_subjects
from policies.values import Unknown

if TYPE_CHECKING:
    from kmsguard.access import PolicyKind

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

ACTION = "kms:Decrypt"
ASSUME = "sts:AssumeRole"

# Kinds of principal (and accounts) the prover lists outside the stack before it stops. The
# SCPs judge only the key's own account, which has fewer kinds (user, role, session): a list
# cut short with all its witnesses stopped by them ends in a deferral, never a pass.
OUTSIDER_KINDS = 8


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


def _compiled(doc: dict[str, Any], kind: PolicyKind, cache: dict[int, Any]) -> Any:
    """The document compiled once per run (many principals share a managed policy).

    A document the evaluator rejects is returned as it is, so that each evaluation still
    reports the error for the principal concerned.
    """
    from kmsguard.access import PolicyDocumentError, parse_policy

    found = cache.get(id(doc))
    if found is None:
        try:
            found = (doc, parse_policy(doc, kind=kind))
        except PolicyDocumentError:
            found = (doc, doc)
        cache[id(doc)] = found  # the document is kept, so its id stays unique
    return found[1]


def _identity_docs(p: StackSubject, compiled: dict[int, Any]) -> list[Any]:
    return [_compiled(d.document, "identity", compiled) for d in readable(p)]


def _path(decision: Any, doc: dict[str, Any] | None, p: StackSubject) -> str:
    """The statements that allowed a decision, named as the user wrote them."""
    sts = {st.index: st for st in statements(doc)} if doc is not None else {}
    given = readable(p)
    via: list[str] = []
    for ref in decision.statements:
        if ref.layer == "trust":
            via.append(f"trust policy {ref.label()}")
        elif ref.layer == "resource":
            st = sts.get(ref.index)
            names = st.principal_names if st is not None else ()
            if names and all(is_account_root(x) for x in names):
                via.append(f"root delegation ({ref.label()})")
            else:
                via.append(f"key policy {ref.label()}")
        elif ref.layer == "identity" and ref.position is not None:
            # The position is among the documents the evaluator was given.
            i = ref.position
            origin = given[i].origin if i < len(given) else ref.policy
            via.append(f"identity policy {origin} ({ref.label()})")
        elif ref.layer == "permissions_boundary" and p.subject.boundary is not None:
            via.append(f"within boundary {p.subject.boundary.origin} ({ref.label()})")
        else:
            via.append(ref.label())
    return " + ".join(via) or decision.reason


@dataclass(frozen=True)
class Org:
    """The organization's policies from the policy config, one document per level."""

    scps: tuple[Any, ...] = ()
    rcps: tuple[Any, ...] = ()


def _org(config: dict[str, Any], findings: Findings) -> Org | None:
    """Parsed SCP/RCP levels; None (after one violation naming the document) when malformed."""
    from kmsguard.access import PolicyDocumentError, parse_policy

    parsed: dict[str, tuple[Any, ...]] = {}
    kinds: tuple[tuple[str, PolicyKind], ...] = (
        ("serviceControlPolicies", "identity"),
        ("resourceControlPolicies", "resource"),
    )
    for name, kind in kinds:
        docs = config.get(name) or []
        out = []
        for i, doc in enumerate(docs if isinstance(docs, list) else [docs]):
            try:
                out.append(parse_policy(doc, kind=kind))
            except PolicyDocumentError as exc:
                findings.violation(
                    findings.meta.finding(
                        "org-policy-malformed",
                        f"policy config {name}[{i}]",
                        f"{exc}; a {name[:-8]} document must be a valid IAM policy (SCPs "
                        "without Principal, RCPs with Principal)",
                        {"setting": name, "index": i, "problem": str(exc)},
                    )
                )
                return None
        parsed[name] = tuple(out)
    return Org(parsed["serviceControlPolicies"], parsed["resourceControlPolicies"])


def _check_key(
    view: StackView,
    key: Node,
    principals: list[StackSubject],
    reach: PrincipalReach,
    compiled: dict[int, Any],
    extra: list[str],
    findings: Findings,
    org: Org = Org(),
    timeout_s: float = 10.0,
    assume: PrincipalReach | None = None,
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
            assume or PrincipalReach(principals, ASSUME),
        )


def _table_names_by_key(view: StackView) -> dict[str, tuple[str, ...]]:
    """The names of the stack's tables each key encrypts (by key URN), read once per stack."""
    keys = stack_keys(view)
    out: dict[str, list[str]] = {}
    for table in view.of_type(AwsType.DYNAMODB_TABLE):
        ref = keys.table_key(table)
        name = table.props.get("name")
        if ref.node is not None and isinstance(name, str) and name:
            out.setdefault(ref.node.urn, []).append(name)
    return {urn: tuple(names) for urn, names in out.items()}


def _contexts(
    region: str, tables: tuple[str, ...], caller_account: str | None
) -> list[dict[str, str] | None]:
    """A direct call, then the decrypt DynamoDB makes for the caller on each table the key
    encrypts (service, caller account and encryption context, as the sandbox and the prover
    present it); without a known table, DynamoDB's service and the caller's account alone."""
    via: list[dict[str, str] | None] = [decrypt_context(region, t, caller_account) for t in tables]
    return [None, *(via or [via_dynamodb(region, caller_account)])]


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
    org: Org = Org(),
    timeout_s: float = 10.0,
    assume: PrincipalReach | None = None,
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
        doc = _default_policy(key_account)
    from kmsguard.access import PolicyDocumentError, who_can

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
    tables = view.collected(_table_names_by_key).get(key.urn, ())
    key_policy = _compiled(doc, "resource", {})
    # Only these can hold access the key policy does not declare; the others are never
    # evaluated, so the rule stays linear in the stack.
    candidates = (
        principals
        if open_key
        else reach.for_resource(keys.key_identifiers(key) | {key_arn}, declared)
    )
    # Roles that can decrypt, with how: whoever can become one of them is a key user too.
    decrypters: list[tuple[StackSubject, Chain]] = []
    for p in candidates:
        arn = p.subject.arn
        if arn is None:
            findings.defer(
                META.finding(
                    "principal-arn-unknown",
                    where,
                    f"the ARN of {p.subject.kind} {p.node.name!r} is unknown during preview",
                    {"kind": p.subject.kind, "name": p.node.name},
                )
            )
            continue
        unknown = unknown_reasons(p)
        docs = _identity_docs(p, compiled)
        boundary = boundary_of(p)
        bounds = {arn: boundary} if boundary is not None else None
        try:
            decisions = [
                who_can(
                    ACTION,
                    key_arn,
                    key_policy,
                    {arn: docs},
                    ctx,
                    boundaries=bounds,
                    scps=org.scps,
                    rcps=org.rcps,
                )[arn]
                for ctx in _contexts(view.region(), tables, account_of(arn))
            ]
        except PolicyDocumentError as exc:
            findings.defer(
                META.finding(
                    "evaluation-failed",
                    where,
                    f"cannot evaluate access of {arn}: {exc}",
                    {"principal": arn, "problem": str(exc)},
                )
            )
            continue
        allowed = next((d for d in decisions if d.allowed), None)
        if allowed is not None and p.subject.kind == "role":
            decrypters.append((p, Chain.start(f"{ACTION} as {arn}: {_path(allowed, doc, p)}")))
        if allowed is not None and arn not in declared:
            findings.violation(
                META.finding(
                    "undeclared-key-user",
                    where,
                    f"{arn} can {ACTION} but is not a declared key user; path: "
                    f"{_path(allowed, doc, p)}",
                    {"principal": arn, "action": ACTION, "path": _path(allowed, doc, p)},
                    urn=p.node.urn,
                )
            )
        elif allowed is None and unknown and arn not in declared:
            findings.defer(
                META.finding(
                    "principal-policies-unknown",
                    where,
                    f"access of {arn} depends on policies unknown now ({unknown})",
                    {"principal": arn},
                )
            )
    _assumers(
        view,
        where,
        decrypters,
        assume or PrincipalReach(principals, ASSUME),
        declared,
        compiled,
        findings,
        org,
    )
    if key_account:
        # The key's own account is closed to the prover (nobody there holds an identity policy
        # it is not shown), so its unnamed principals can never be a witness.
        # Any principal of an account whose root is a grantee may be allowed.
        rooted = {a for p in grantees if is_account_root(p) and (a := account_of(p))}
        foreign = rooted - {key_account}
        inside = principals if open_key else reach.in_accounts(foreign)
        _outsiders(view, key_arn, doc, where, inside, declared, findings, org, timeout_s)
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
            _check_grant(where, key_arn, doc, sg, reach, declared, findings, org)


def _outsiders(
    view: StackView,
    key_arn: str,
    doc: dict[str, Any],
    where: str,
    principals: list[StackSubject],
    declared: set[str],
    findings: Findings,
    org: Org,
    timeout_s: float,
) -> None:
    """Principals the stack does not declare at all (any account, any name, any condition
    value) that can decrypt: the prover's question, each witness re-checked by the evaluator.
    `principals` are the stack's principals the key policy could allow without naming them
    (all of them for a wildcard principal, else those of accounts whose root it names): they
    are judged by the concrete evaluation, so the prover excludes them.

    The stack's own account is taken as closed: its identities outside the stack are assumed to
    have no IAM policy granting key use; another account's principals are assumed allowed by
    their own IAM policies, as only that account can tell.
    """
    from kmsguard.access import PolicyDocumentError, evaluate, parse_policy
    from kmsguard.access.prove import Key, access_not_granted
    from kmsguard.access.prove.concretize import assumed_identity_policy

    try:
        parsed = parse_policy(doc, kind="resource")
    except PolicyDocumentError as exc:
        findings.defer(
            META.finding(
                "prover-unanswered",
                where,
                f"cannot prove who else can {ACTION}: {exc}",
                {"reason": str(exc)},
            )
        )
        return
    try:
        key = Key(key_arn)
    except ValueError as exc:
        findings.defer(
            META.finding(
                "prover-unanswered",
                where,
                f"cannot prove who else can {ACTION}: {exc}",
                {"reason": str(exc)},
            )
        )
        return
    account = key.account
    named = {
        name
        for st in parsed.statements
        if not st.is_deny and not st.not_principal and st.principal is not None
        if st.action_matches(ACTION.lower())
        for name in (*st.principal.arns, *st.principal.others)
    }
    allowed = sorted(
        named
        | declared
        | {p.subject.arn for p in principals if p.subject.arn}
        | {account_root_arn(account)}
    )
    verdict = access_not_granted(
        parsed,
        [ACTION],
        allowed,
        closed_accounts=[account],
        rcps=org.rcps,
        key=key,
        timeout_s=timeout_s,
        limit=OUTSIDER_KINDS,
    )
    if verdict.status == "unknown":
        findings.defer(
            META.finding(
                "prover-unanswered",
                where,
                f"prover query access_not_granted ({ACTION} outside the stack) unanswered: "
                f"{verdict.reason}",
                {"reason": verdict.reason},
            )
        )
        return
    shown = []
    requests = []
    for w in verdict.witnesses:
        if org.rcps or org.scps:
            ids = [assumed_identity_policy(ACTION, key_arn)] if w.identity_assumed else []
            d = evaluate(
                w.principal,
                ACTION,
                key_arn,
                identity_policies=ids,
                resource_policy=doc,
                context=w.context,
                scps=org.scps if account_of(w.principal) == account else (),
                rcps=org.rcps,
            )
            if not d.allowed:
                continue  # the account's SCPs stop this one (RCPs are part of the proof)
        shown.append(w.describe())
        requests.append(w.to_json())
    if not shown and verdict.witnesses and not verdict.complete:
        findings.defer(
            META.finding(
                "outsiders-stopped-by-scps",
                where,
                f"the {len(verdict.witnesses)} kinds of principal outside the stack found able "
                f"to {ACTION} are all stopped by the configured SCPs; others may not be",
                {"found": len(verdict.witnesses)},
            )
        )
    if shown:
        more = "" if verdict.complete else "; more kinds may exist"
        findings.violation(
            META.finding(
                "undeclared-outsider",
                where,
                f"principals outside the stack can {ACTION} and are not declared key users: "
                f"{'; '.join(shown)}{more}",
                {"witnesses": requests, "complete": verdict.complete},
            )
        )


def _assumers(
    view: StackView,
    where: str,
    decrypters: list[tuple[StackSubject, Chain]],
    assume: PrincipalReach,
    declared: set[str],
    compiled: dict[int, Any],
    findings: Findings,
    org: Org,
) -> None:
    """Whoever can become a role that can decrypt is a key user: sts:AssumeRole through the
    role's trust policy, then the role's own access, followed transitively (role chaining).

    Each role is examined once, and only the stack's principals whose policies could reach it
    (or that its trust policy names) are evaluated, so the work stays linear in the stack.
    """
    from kmsguard.access import PolicyDocumentError, evaluate
    from kmsguard.access.trust import ALL_BUT, ANYONE, PRINCIPAL, entries, lets_in_undeclared

    folded = {d.lower() for d in declared}
    stack = assume.arns
    known = {id(p) for p, _ in decrypters}
    queue = deque(decrypters)
    while queue:
        role, chain = queue.popleft()
        role_arn = role.subject.arn
        if role.subject.kind != "role" or role_arn is None:
            continue
        source = role.subject.trust
        if source is not None and not source.known:
            findings.defer(
                META.finding(
                    "trust-policy-unknown",
                    where,
                    f"the trust policy of role {role_arn} is unknown during preview",
                    {"role": role_arn},
                )
            )
            continue
        trust = source.document if source and isinstance(source.document, dict) else None
        try:
            if trust is None:
                raise PolicyDocumentError("assumeRolePolicy", "missing or not a JSON object")
            ways = entries(trust)
        except PolicyDocumentError as exc:
            findings.defer(
                META.finding(
                    "trust-policy-unreadable",
                    where,
                    f"cannot tell who can become role {role_arn}: {exc}",
                    {"role": role_arn, "problem": str(exc)},
                )
            )
            continue
        own = account_of(role_arn) or view.account_id
        outside = [e for e in ways if lets_in_undeclared(e, own, stack, folded)]
        if outside:
            findings.violation(
                META.finding(
                    "role-assumable-by-undeclared",
                    where,
                    f"role {role_arn} can {ACTION} and principals that are not declared key "
                    f"users can assume it: {'; '.join(e.describe() for e in outside)}; path "
                    f"after assuming: {chain.text()}",
                    {
                        "role": role_arn,
                        "assumers": [e.describe() for e in outside],
                        "path": chain.text(),
                    },
                    urn=role.node.urn,
                )
            )
        if any(e.kind in (ANYONE, ALL_BUT) for e in ways):
            continue  # everyone can become it: said above, no need to name each
        named = [e.name for e in ways if e.kind == PRINCIPAL]
        for p in assume.for_resource({role_arn}, named):
            arn = p.subject.arn
            if id(p) in known or arn is None:
                continue
            try:
                decision = evaluate(
                    arn,
                    ASSUME,
                    role_arn,
                    identity_policies=_identity_docs(p, compiled),
                    resource_policy=None,
                    trust_policy=trust,
                    permissions_boundary=boundary_of(p),
                    scps=org.scps,
                    rcps=org.rcps,
                )
            except PolicyDocumentError as exc:
                findings.defer(
                    META.finding(
                        "evaluation-failed",
                        where,
                        f"cannot evaluate whether {arn} can assume {role_arn}: {exc}",
                        {"principal": arn, "role": role_arn, "problem": str(exc)},
                    )
                )
                continue
            if not decision.allowed:
                reasons = unknown_reasons(p)
                if reasons and arn not in declared:
                    findings.defer(
                        META.finding(
                            "principal-policies-unknown",
                            where,
                            f"whether {arn} can assume {role_arn} depends on policies "
                            f"unknown now ({reasons})",
                            {"principal": arn, "role": role_arn},
                        )
                    )
                continue
            known.add(id(p))
            step = chain.via(f"{ASSUME} {role_arn} ({_path(decision, None, p)})")
            if arn not in declared:
                findings.violation(
                    META.finding(
                        "undeclared-key-user",
                        where,
                        f"{arn} can {ACTION} by becoming a role but is not a declared key "
                        f"user; path: {step.text()}",
                        {"principal": arn, "action": ACTION, "path": step.text()},
                        urn=p.node.urn,
                    )
                )
            queue.append((p, step))


def _grant_caller(grantee: str) -> str:
    """Who uses a grant: a role's grant is used by its sessions (capped by its boundary)."""
    arn = parse_arn(grantee)
    if arn is not None and arn.service == "iam" and arn.resource.startswith("role/"):
        name = arn.resource.rsplit("/", 1)[-1]
        return f"arn:{arn.partition}:sts::{arn.account}:assumed-role/{name}/grant-use"
    return grantee


def _check_grant(
    where: str,
    key_arn: str,
    doc: dict[str, Any],
    sg: StackGrant,
    reach: PrincipalReach,
    declared: set[str],
    findings: Findings,
    org: Org,
) -> None:
    from kmsguard.access import PolicyDocumentError, evaluate, parse_grant

    assert sg.grant is not None
    grantee = str(sg.grant["GranteePrincipal"])
    try:
        grant = parse_grant(sg.grant, sg.label)
    except PolicyDocumentError as exc:
        findings.violation(
            META.finding(
                "grant-malformed",
                where,
                str(exc),
                {"grant": sg.label, "problem": str(exc)},
                urn=sg.node.urn,
            )
        )
        return
    if ACTION.lower() not in grant.operations or grant.for_aws_resource:
        return
    if grantee in declared or grantee.lower() in {d.lower() for d in declared}:
        return
    holder = next(iter(reach.named(grantee)), None)
    docs = [d.document for d in readable(holder)] if holder else []
    boundary = boundary_of(holder) if holder else None
    try:
        decision = evaluate(
            _grant_caller(grantee),
            ACTION,
            key_arn,
            identity_policies=docs,
            resource_policy=doc,
            context=satisfying_context(sg.grant),
            grants=[grant],
            permissions_boundary=boundary,
            scps=org.scps,
            rcps=org.rcps,
        )
    except PolicyDocumentError as exc:
        findings.defer(
            META.finding(
                "evaluation-failed",
                where,
                f"cannot evaluate {sg.label} for {grantee}: {exc}",
                {"grant": sg.label, "principal": grantee, "problem": str(exc)},
            )
        )
        return
    if decision.allowed and any(r.layer == "grants" for r in decision.statements):
        findings.violation(
            META.finding(
                "undeclared-grantee",
                where,
                f"{sg.label} lets {grantee} {ACTION} but it is not a declared key user "
                f"(constraints: {grant.constraints_text()})",
                {
                    "grant": sg.label,
                    "principal": grantee,
                    "constraints": grant.constraints_text(),
                },
                urn=sg.node.urn,
            )
        )


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
    org = _org(config, findings)
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
