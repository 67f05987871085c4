"""Per table: who, beyond its declared readers, can read its items by any path (the prover)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kmsguard.access import PolicyDocumentError, parse_policy
from kmsguard.access.dynamodb_reads import READ_PATHS
from kmsguard.access.key_users import declared_readers, key_users
from kmsguard.access.policy import Policy
from kmsguard.access.prove import ReadersVerdict, readers
from kmsguard.audit.findings import READERS, Finding, own
from kmsguard.audit.inventory import Inventory, KeyData, TableData
from kmsguard.contract import AwsType
from kmsguard.org_policies import OrgPolicies

if TYPE_CHECKING:
    from kmsguard.audit.proofs import Principals

# The pack's rule whose settings say who besides the key users is a declared reader.
RULE = "dynamodb-table-readers-match-declared"
WITNESSES = 8


@dataclass(frozen=True)
class ReadersSettings:
    """The readers rule's settings as --policy-config gives them (the pack validated them)."""

    trusted_accounts: tuple[str, ...] = ()
    trusted_orgs: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    skipped: str | None = None  # why the proof does not run (the rule is disabled)

    @staticmethod
    def of(settings: Mapping[str, Any]) -> ReadersSettings:
        def strings(name: str) -> tuple[str, ...]:
            value = settings.get(name)
            return tuple(str(v) for v in value) if isinstance(value, list) else ()

        off = settings.get("enforcementLevel") == "disabled"
        return ReadersSettings(
            strings("trustedAccounts"),
            strings("trustedOrganizations"),
            strings("extraDeclaredReaders"),
            f"{RULE} is disabled in --policy-config" if off else None,
        )


class Reach:
    """Which principals an identity Allow for a read action may let at which table resources,
    indexed once for the account: each table is offered only those that may reach it (and
    those its policies name), so that the proof's cost does not grow with the account's size.
    Leaving out the others is exact: in the closed account, a principal whose policies cannot
    allow a read of the table is one with no identity policy for it."""

    def __init__(self, identities: Mapping[str, list[Policy]]) -> None:
        self.identities = identities
        self.everywhere: set[str] = set()
        self.by_resource: dict[str, set[str]] = {}
        reads = [a.lower() for path in READ_PATHS if path.returns_items for a in path.actions]
        for arn, docs in identities.items():
            for st in (st for d in docs for st in d.statements if not st.is_deny):
                if not any(st.action_matches(a) for a in reads):
                    continue
                patterns = st.resource_patterns
                if st.not_resource or not patterns or any(c in r for r in patterns for c in "*?$"):
                    self.everywhere.add(arn)
                    break
                for r in patterns:
                    self.by_resource.setdefault(r.lower(), set()).add(arn)

    def of(self, resources: list[str], policies: list[Policy]) -> dict[str, list[Policy]]:
        found = set(self.everywhere)
        lowered = {a.lower(): a for a in self.identities}  # IAM names compare case-insensitively
        for r in resources:
            found |= self.by_resource.get(r.lower(), set())
        for pol in policies:
            for st in pol.statements:
                spec = st.principal
                if st.not_principal or spec is None or spec.everyone or spec.accounts:
                    return dict(self.identities)  # it may let in anyone: everyone is offered
                if any(":assumed-role/" in a for a in spec.arns):
                    return dict(self.identities)  # a session holds its role's policies
                found |= {lowered[a.lower()] for a in spec.arns if a.lower() in lowered}
        return {a: self.identities[a] for a in sorted(found)}


def _decrypting(
    key_policy: Policy, grants: list[dict[str, Any]] | None, principals: Principals
) -> set[str] | None:
    """The account's principals that may decrypt with the key (lower-cased): an identity Allow
    for kms:Decrypt, or named by its policy or a grant; None: it may let in anyone."""
    found = {a.lower() for a in principals.policies}
    found |= {str(g.get("GranteePrincipal", "")).lower() for g in grants or []}
    for st in key_policy.statements:
        spec = st.principal
        if st.is_deny:
            continue
        if st.not_principal or spec is None or spec.everyone:
            return None
        if any(":assumed-role/" in a for a in spec.arns):
            return None  # a session holds its role's policies
        found |= {a.lower() for a in spec.arns}
    return found


def _unknown(table: TableData, why: str) -> Finding:
    return own(
        table.arn,
        READERS,
        "readers-unknown",
        "deferred",
        "high",
        f"Table {table.name!r}: who can read it is unanswered: {why}",
        AwsType.DYNAMODB_TABLE,
        {"unanswered": why},
    )


def table_readers(
    inv: Inventory,
    table: TableData,
    key: KeyData | None,
    principals: Principals,
    reach: Reach,
    org: OrgPolicies,
    settings: ReadersSettings,
    timeout_s: float,
) -> Finding | None:
    """A finding when someone beyond the declared readers (the key users, the account's root,
    the rule's extra readers and trusted accounts and organizations) can read the table's
    items: the witness's read and decrypt requests; unknown is a deferred finding, never a pass.
    """
    d = table.description
    if "*" in table.unread:
        return _unknown(table, "dynamodb:DescribeTable was refused")
    for prop, action in (("resourcePolicy", "table"), ("streamPolicy", "stream")):
        if prop in table.unread:
            return _unknown(table, f"its {action}'s resource-based policy could not be read")
    key_arn = str((d.get("SSEDescription") or {}).get("KMSMasterKeyArn") or "")
    key_policy: Any = None
    users: list[str] = []
    if key is not None:
        if key.unread & {"*", "policy", "grants"} or not key.policy:
            return _unknown(table, f"the policy or grants of its key {key.arn} could not be read")
        try:
            key_policy = parse_policy(key.policy, kind="resource")
        except PolicyDocumentError as exc:
            return _unknown(table, f"its key's policy: {exc}")
        users = key_users(key_policy.statements)
    # An AWS owned or managed key, or a key this audit does not see: DynamoDB's side decides
    # alone, which never finds fewer readers.
    stream = d.get("StreamSpecification") or {}
    stream_arn = str(d.get("LatestStreamArn") or "") if stream.get("StreamEnabled") else ""
    indexes = [
        str(i.get("IndexName"))
        for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
        for i in d.get(kind) or []
        if i.get("IndexName")
    ]
    resources = [table.arn, *(f"{table.arn}/index/{i}" for i in indexes)]
    resources += [stream_arn] if stream_arn else []
    try:
        docs = [
            parse_policy(doc, kind="resource")
            for doc in (table.resource_policy, table.stream_policy)
            if doc
        ]
    except PolicyDocumentError as exc:
        return _unknown(table, f"its resource-based policy: {exc}")
    ids = reach.of(resources, docs)
    if key_policy is not None:
        may = _decrypting(key_policy, key.grants if key is not None else None, principals)
        if may is not None:
            # A reader needs both sides: whoever the key cannot serve never reads its items.
            ids = {a: d for a, d in ids.items() if a.lower() in may}
    root = f"arn:{inv.partition}:iam::{inv.account}:root"
    try:
        verdict = readers(
            table.arn,
            key_policy=key_policy,
            key_arn=key.arn if key is not None else None,
            table_policy=table.resource_policy or None,
            stream_arn=stream_arn or None,
            stream_policy=table.stream_policy or None,
            indexes=indexes,
            identities=ids,
            closed_accounts=[inv.account],
            boundaries={a: b for a, b in principals.boundaries.items() if a in ids},
            scps=org.scps,
            rcps=org.rcps,
            grants=(key.grants or []) if key is not None else [],
            declared=declared_readers(users, settings.extra, root),
            trusted_accounts=settings.trusted_accounts,
            trusted_orgs=settings.trusted_orgs,
            timeout_s=timeout_s,
            limit=WITNESSES,
            find_missing=False,  # a key user who cannot read is not a finding here
        )
    except (PolicyDocumentError, ValueError) as exc:
        return _unknown(table, f"cannot prove who can read it: {exc}")
    note = "" if key is not None or not key_arn.startswith("arn:") else f" (key {key_arn})"
    return _finding(table, verdict, note)


def _finding(table: TableData, verdict: ReadersVerdict, note: str) -> Finding | None:
    if verdict.status == "unknown":
        return _unknown(table, verdict.reason)
    if verdict.status == "pass":
        return None
    shown = [w.describe() + (" after kms:Decrypt" if w.decrypt else "") for w in verdict.witnesses]
    more = "" if verdict.complete else "; more kinds may exist"
    return own(
        table.arn,
        READERS,
        "undeclared-readers",
        "advisory",
        "high",
        f"Table {table.name!r}{note}: readable by principals that are not declared readers: "
        f"{'; '.join(shown)}{more}",
        AwsType.DYNAMODB_TABLE,
        {"witnesses": [w.to_json() for w in verdict.witnesses], "complete": verdict.complete},
    )
