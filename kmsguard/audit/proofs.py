"""Per table: who, beyond the key users its key policy names, can decrypt it (the prover)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kmsguard.access import PolicyDocumentError, evaluate, parse_policy
from kmsguard.access.arn import account_of, is_key_arn
from kmsguard.access.policy import Policy
from kmsguard.access.prove import Key, Verdict, access_not_granted
from kmsguard.audit.findings import KEY_ACCESS, READERS, Finding, Skipped
from kmsguard.audit.inventory import Inventory, KeyData, TableData
from kmsguard.audit.model import document_text
from kmsguard.contract import AwsType
from kmsguard.org_policies import OrgPolicies

ACTION = "kms:Decrypt"
WITNESSES = 8
Progress = Callable[[str, int, int], None]


class Principals:
    """The account's users and roles with their identity policies and boundaries, parsed once.

    Only principals with an Allow that can cover kms:Decrypt go to the prover: in the account
    (closed to it) nobody else can be given the key through root delegation.
    """

    def __init__(self, iam: Mapping[str, list[dict[str, Any]]] | None) -> None:
        self.policies: dict[str, list[Policy]] = {}
        self.boundaries: dict[str, Policy] = {}
        self.problems: list[str] = []
        if iam is None:
            return
        managed: dict[str, Policy] = {}
        for p in iam.get("Policies", []):
            doc = next(
                (
                    v.get("Document")
                    for v in p.get("PolicyVersionList") or []
                    if v.get("IsDefaultVersion")
                ),
                None,
            )
            one = self._parse(doc, p["Arn"])
            if one is not None:
                managed[p["Arn"]] = one
        groups = {g["GroupName"]: g for g in iam.get("GroupDetailList", [])}
        for kind, items, inline in (
            ("user", iam.get("UserDetailList", []), "UserPolicyList"),
            ("role", iam.get("RoleDetailList", []), "RolePolicyList"),
        ):
            for e in items:
                arn = str(e["Arn"])
                docs = [self._parse(ip["PolicyDocument"], arn) for ip in e.get(inline) or []]
                attached = [mp["PolicyArn"] for mp in e.get("AttachedManagedPolicies") or []]
                for g in e.get("GroupList") or [] if kind == "user" else []:
                    group = groups.get(g, {})
                    docs += [
                        self._parse(ip["PolicyDocument"], arn)
                        for ip in group.get("GroupPolicyList") or []
                    ]
                    attached += [
                        mp["PolicyArn"] for mp in group.get("AttachedManagedPolicies") or []
                    ]
                docs += [managed.get(a) for a in attached]
                known = [d for d in docs if d is not None]
                if any(
                    not st.is_deny and st.action_matches(ACTION.lower())
                    for d in known
                    for st in d.statements
                ):
                    self.policies[arn] = known
                boundary = (e.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
                if boundary in managed:
                    self.boundaries[arn] = managed[boundary]

    def _parse(self, doc: Any, where: str) -> Policy | None:
        if doc is None:
            return None
        try:
            return parse_policy(document_text(doc), kind="identity")
        except PolicyDocumentError as exc:
            self.problems.append(f"{where}: {exc}")
            return None


def named_key_users(policy: Policy) -> list[str]:
    """Principals an Allow for kms:Decrypt names (account roots included: they delegate)."""
    return sorted(
        {
            name
            for st in policy.statements
            if not st.is_deny and not st.not_principal and st.principal is not None
            if st.action_matches(ACTION.lower())
            for name in (*st.principal.arns, *st.principal.others)
        }
    )


def key_access(
    table: TableData,
    key: KeyData,
    principals: Principals,
    org: OrgPolicies,
    timeout_s: float,
) -> Finding | None:
    """A finding when someone the key policy does not name can decrypt the table's key."""
    where = f"Table {table.name!r} (key {key.arn})"
    try:
        policy = parse_policy(key.policy or "", kind="resource")
    except PolicyDocumentError as exc:
        return Finding(table.arn, KEY_ACCESS, "advisory", "high", f"{where}: key policy: {exc}")
    account = account_of(key.arn) or ""
    # The account's root delegates to the account's IAM, which the prover sees (closed).
    allowed = sorted({*named_key_users(policy), f"arn:aws:iam::{account}:root"})
    verdict: Verdict = access_not_granted(
        policy,
        [ACTION],
        allowed,
        identities=principals.policies,
        closed_accounts=[account],
        rcps=org.rcps,
        key=Key(key.arn),
        timeout_s=timeout_s,
        limit=WITNESSES,
    )
    if verdict.status == "unknown":
        return Finding(
            table.arn,
            KEY_ACCESS,
            "deferred",
            "high",
            f"{where}: who can {ACTION} is not proved: {verdict.reason}",
            AwsType.DYNAMODB_TABLE,
        )
    shown = [w for w in verdict.witnesses if _confirmed(w, key, policy, principals, org)]
    if not shown:
        return None
    more = "" if verdict.complete else "; more kinds may exist"
    return Finding(
        table.arn,
        KEY_ACCESS,
        "advisory",
        "high",
        f"{where}: can be read by principals the key policy does not name: "
        f"{'; '.join(w.describe() for w in shown)}{more}",
        AwsType.DYNAMODB_TABLE,
        tuple(w.to_json() for w in shown),
    )


def _confirmed(
    w: Any, key: KeyData, policy: Policy, principals: Principals, org: OrgPolicies
) -> bool:
    """The witness re-decided with what the prover leaves out: the principal's boundary and
    the organization's SCPs."""
    if w.identity_assumed or w.principal not in principals.policies:
        return True
    decision = evaluate(
        w.principal,
        ACTION,
        key.arn,
        identity_policies=principals.policies[w.principal],
        resource_policy=policy,
        context=w.context,
        permissions_boundary=principals.boundaries.get(w.principal),
        scps=org.scps,
        rcps=org.rcps,
    )
    return decision.allowed


def readers_skipped() -> Skipped:
    """The seam for the table readers proof (every path to the table's items, not only the key):
    it runs here, per table, once kmsguard.access.prove offers it."""
    return Skipped(READERS, "the table readers proof is not part of this kmsguard version")


def prove_tables(
    inv: Inventory, org: OrgPolicies, timeout_s: float, progress: Progress
) -> tuple[list[Finding], list[Skipped]]:
    keys = {k.arn: k for k in inv.keys}
    principals = Principals(inv.iam)
    todo: list[tuple[TableData, KeyData]] = []
    for t in inv.tables:
        arn = str((t.description.get("SSEDescription") or {}).get("KMSMasterKeyArn") or "")
        k = keys.get(arn)
        if is_key_arn(arn) and k is not None and k.policy and not k.unread:
            todo.append((t, k))
    out: list[Finding] = []
    for i, (t, k) in enumerate(todo):
        f = key_access(t, k, principals, org, timeout_s)
        if f is not None:
            out.append(f)
        progress("prove", i + 1, len(todo))
    skipped: Sequence[Skipped] = [readers_skipped()]
    return out, list(skipped)
