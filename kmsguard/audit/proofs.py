"""Per table: who beyond the key users decrypts it, and who beyond the declared readers reads it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kmsguard.access import PolicyDocumentError, evaluate, parse_policy
from kmsguard.access.arn import account_of, is_key_arn, parse_arn
from kmsguard.access.authorization_details import subjects
from kmsguard.access.dynamodb_context import decrypt_context
from kmsguard.access.dynamodb_reads import READ_PATHS
from kmsguard.access.policy import Policy
from kmsguard.access.prove import Key, Verdict, access_not_granted
from kmsguard.access.subject import PolicySource
from kmsguard.audit.findings import KEY_ACCESS, READERS, Finding, Skipped, own
from kmsguard.audit.inventory import Inventory, KeyData, TableData
from kmsguard.audit.model import document_text
from kmsguard.contract import AwsType
from kmsguard.org_policies import OrgPolicies

ACTION = "kms:Decrypt"
RELEVANT = sorted(
    {
        ACTION.lower(),
        *(a.lower() for path in READ_PATHS if path.returns_items for a in path.actions),
    }
)
WITNESSES = 8
Progress = Callable[[str, int, int], None]


class Principals:
    """The account's users and roles with their identity policies and boundaries, parsed once.

    Only principals with an Allow that can cover kms:Decrypt go to the prover: in the account
    (closed to it) nobody else can be given the key through root delegation.
    """

    def __init__(
        self,
        iam: Mapping[str, list[dict[str, Any]]] | None,
        aws_policies: Mapping[str, Any] | None = None,
    ) -> None:
        self.policies: dict[str, list[Policy]] = {}
        # Those whose policies speak of a read action or kms:Decrypt (Allow or Deny): the
        # readers proof's identities; the account is closed, nobody else holds such a policy.
        self.readers: dict[str, list[Policy]] = {}
        self.boundaries: dict[str, Policy] = {}
        self.problems: list[str] = []
        if iam is None:
            return
        # One parse per document: the collector hands a managed policy attached to many as one
        # object (kept here with its parse, so that its id stays its own).
        parsed: dict[int, tuple[Any, Policy | None]] = {}
        for subject in subjects(iam, (aws_policies or {}).get):
            arn = str(subject.arn)
            known = [
                p
                for p in (self._parse(s, arn, parsed) for s in subject.identity_policies)
                if p is not None
            ]
            if any(
                not st.is_deny and st.action_matches(ACTION.lower())
                for d in known
                for st in d.statements
            ):
                self.policies[arn] = known
            if any(st.action_matches(a) for d in known for st in d.statements for a in RELEVANT):
                self.readers[arn] = known
            boundary = self._parse(subject.boundary, arn, parsed)
            if boundary is not None:
                self.boundaries[arn] = boundary

    def _parse(
        self, source: PolicySource | None, where: str, parsed: dict[int, tuple[Any, Policy | None]]
    ) -> Policy | None:
        """The source's document parsed; None when it is unknown or unreadable (noted)."""
        if source is None:
            return None
        if not source.known:
            self.problems.append(f"{where}: {source.origin}: {source.problem}")
            return None
        key = id(source.document)
        if key not in parsed:
            try:
                one = parse_policy(document_text(source.document), kind="identity")
            except PolicyDocumentError as exc:
                self.problems.append(f"{where}: {source.origin}: {exc}")
                one = None
            parsed[key] = (source.document, one)
        return parsed[key][1]


def named_key_users(policy: Policy) -> list[str]:
    """Principals an Allow for kms:Decrypt names (account roots included: they delegate)."""
    return sorted(
        {
            name
            for st in policy.statements
            if not st.is_deny and not st.not_principal and st.principal is not None
            if st.action_matches(ACTION.lower())
            for name in (
                *st.principal.arns,
                *st.principal.others,
                *(f"arn:aws:iam::{a}:root" for a in st.principal.accounts),
            )
        }
    )


def key_access(
    table: TableData,
    key: KeyData,
    principals: Principals,
    org: OrgPolicies,
    timeout_s: float,
) -> Finding | None:
    """A finding when someone the key policy does not name can decrypt the table's key.

    The account's own principals are decided one by one (boundaries and SCPs included), every
    one of them; the prover answers for everyone else (other accounts, any name, any condition
    value), with the account closed: nobody in it holds a policy it is not shown.
    """
    where = f"Table {table.name!r} (key {key.arn})"
    try:
        policy = parse_policy(key.policy or "", kind="resource")
    except PolicyDocumentError as exc:
        return own(
            table.arn,
            KEY_ACCESS,
            "key-policy-malformed",
            "advisory",
            "high",
            f"{where}: key policy: {exc}",
            AwsType.DYNAMODB_TABLE,
            {"key": key.arn, "error": str(exc)},
        )
    account = account_of(key.arn) or ""
    named = named_key_users(policy)
    parsed = parse_arn(key.arn)
    region = parsed.region if parsed is not None else table.region
    found: list[dict[str, Any]] = []
    for arn in principals.policies:
        if arn not in named:
            witness = _decides(arn, key, policy, principals, org, (region, table.name))
            if witness is not None:
                found.append(witness)
    # The root delegates to the account's IAM, decided above; known principals are set aside.
    allowed = sorted({*named, f"arn:aws:iam::{account}:root", *principals.policies})
    verdict: Verdict = access_not_granted(
        policy,
        [ACTION],
        allowed,
        closed_accounts=[account],
        rcps=org.rcps,
        key=Key(key.arn),
        timeout_s=timeout_s,
        limit=WITNESSES,
    )
    shown = [f"{w['principal']} may {ACTION} ({w['why']})" for w in found]
    if verdict.status == "unknown":
        shown.append(f"anyone else: not proved ({verdict.reason})")
    witnesses = [w for w in verdict.witnesses if _confirmed(w, key, policy, org)]
    shown += [w.describe() for w in witnesses]
    found += [w.to_json() for w in witnesses]
    if not shown:
        return None
    more = "" if verdict.complete else "; more kinds may exist"
    unproved = verdict.status == "unknown" and not found
    facts: dict[str, Any] = {"key": key.arn, "witnesses": found, "complete": verdict.complete}
    if verdict.status == "unknown":
        facts["unproved"] = verdict.reason
    return own(
        table.arn,
        KEY_ACCESS,
        "outsiders-unproved" if unproved else "outsider-can-decrypt",
        "deferred" if unproved else "advisory",
        "high",
        f"{where}: can be read by principals the key policy does not name: "
        f"{'; '.join(shown)}{more}",
        AwsType.DYNAMODB_TABLE,
        facts,
    )


def _decides(
    arn: str,
    key: KeyData,
    policy: Policy,
    principals: Principals,
    org: OrgPolicies,
    table: tuple[str, str],
) -> dict[str, Any] | None:
    """The request by which a known principal decrypts, directly or through DynamoDB when it
    reads the table (`table`: its region and name)."""
    region, name = table
    for context in ({}, decrypt_context(region, name, account_of(arn))):
        decision = evaluate(
            arn,
            ACTION,
            key.arn,
            identity_policies=principals.policies[arn],
            resource_policy=policy,
            context=context,
            permissions_boundary=principals.boundaries.get(arn),
            scps=org.scps,
            rcps=org.rcps,
        )
        if decision.allowed:
            why = " + ".join(ref.label() for ref in decision.statements) or decision.reason
            return {
                "principal": arn,
                "action": ACTION,
                "resource": key.arn,
                "context": context,
                "why": why,
            }
    return None


def _confirmed(w: Any, key: KeyData, policy: Policy, org: OrgPolicies) -> bool:
    """An outsider's witness re-decided with the organization's SCPs, which the prover leaves
    out (only the key's own account is under them)."""
    if w.identity_assumed or not org.scps:
        return True
    decision = evaluate(
        w.principal,
        ACTION,
        key.arn,
        identity_policies=[],
        resource_policy=policy,
        context=w.context,
        scps=org.scps if account_of(w.principal) == account_of(key.arn) else (),
        rcps=org.rcps,
    )
    return decision.allowed


def prove_tables(
    inv: Inventory,
    org: OrgPolicies,
    timeout_s: float,
    progress: Progress,
    settings: Mapping[str, Any] | None = None,
) -> tuple[list[Finding], list[Skipped]]:
    """The key-access and readers proofs of every table; `settings` are the readers rule's
    (trusted accounts and organizations, extra declared readers) from --policy-config."""
    from kmsguard.audit.readers import Reach, ReadersSettings, table_readers

    if inv.iam is None:
        # Without the account's identities the account is not closed: no proof, and no pass.
        why = "the account's IAM could not be read (iam:GetAccountAuthorizationDetails)"
        return [], [Skipped(KEY_ACCESS, why), Skipped(READERS, why)]
    keys = {k.arn: k for k in inv.keys}
    principals = Principals(inv.iam, inv.aws_policies)
    wanted = ReadersSettings.of(settings or {})
    reach = Reach(principals.readers)
    out: list[Finding] = []
    for i, t in enumerate(inv.tables):
        arn = str((t.description.get("SSEDescription") or {}).get("KMSMasterKeyArn") or "")
        k = keys.get(arn)
        if is_key_arn(arn) and k is not None and k.policy and not k.unread:
            f = key_access(t, k, principals, org, timeout_s)
            if f is not None:
                out.append(f)
        if wanted.skipped is None:
            f = table_readers(inv, t, k, principals, reach, org, wanted, timeout_s)
            if f is not None:
                out.append(f)
        progress("prove", i + 1, len(inv.tables))
    skipped = [] if wanted.skipped is None else [Skipped(READERS, wanted.skipped)]
    return out, skipped
