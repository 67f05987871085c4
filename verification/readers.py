"""Every user and role of the account that can read the table, judged from the deployed policies."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmsguard import access
from kmsguard.access.arn import account_of
from kmsguard.access.dynamodb_context import decrypt_context
from kmsguard.access.subject import Subject
from kmsguard.access.trust import Chain
from kmsguard.aws_errors import error_code
from verification.account import Unreadable, authorization_details, identities
from verification.grants import short_principal
from verification.outputs import StackFacts
from verification.outsiders import outsider_rows
from verification.read_paths import DeployedTable, Target, describe, targets
from verification.verdicts import MISMATCH, NOT_VERIFIABLE, PASS, ConfigRow

CHECK = "table.readers"
EXPECTED = "only declared key users can read"


def _arn(who: Subject) -> str:
    """A listed subject's ARN: IAM's listing names every user and role by one."""
    return who.arn or ""


def _witness(
    decision: access.Decision,
    who: Subject,
    key_policy: Mapping[str, Any],
    resource: str = "key policy",
) -> str:
    """The statements that allowed, named by where they come from."""
    sts = key_policy.get("Statement", [])
    sts = sts if isinstance(sts, list) else [sts]
    parts: list[str] = []
    for ref in decision.statements:
        if ref.policy.startswith("identity["):
            i = int(ref.policy[len("identity[") : -1])
            known = who.identity_policies
            origin = known[i].origin if i < len(known) else ref.policy
            parts.append(f"{origin} statement {ref.index}" + (f" ({ref.sid!r})" if ref.sid else ""))
        elif ref.policy == "resource":
            st = sts[ref.index] if 0 <= ref.index < len(sts) else {}
            principal = st.get("Principal", {}) if isinstance(st, dict) else {}
            names = principal.get("AWS", []) if isinstance(principal, dict) else []
            names = names if isinstance(names, list) else [names]
            rooted = bool(names) and all(str(n).endswith(":root") for n in names)
            where = f"root delegation in {resource}" if rooted else resource
            parts.append(f"{where} {ref.label()}")
        elif ref.policy == "trust":
            parts.append(f"trust policy {ref.label()}")
        elif ref.policy == "permissions_boundary" and who.boundary is not None:
            parts.append(f"within {who.boundary.origin}")
        else:
            parts.append(ref.label())
    return " + ".join(parts) or decision.reason


@dataclass(frozen=True)
class Judge:
    """What decides reads of the table: the deployed key policy, grants and the organization's."""

    facts: StackFacts
    region: str
    key_policy: Mapping[str, Any]
    grants: Sequence[Mapping[str, Any]] = ()
    scps: tuple[Any, ...] = ()
    rcps: tuple[Any, ...] = ()
    table_policy: Mapping[str, Any] | None = None  # the table's resource-based policy
    # The deployed indexes and stream with their policies; without it, the table alone.
    table: DeployedTable | None = None

    def reads(self, who: Subject) -> str | None:
        """The witness of a read through one of the table's read paths (DynamoDB allows its
        actions and, where it returns items, the key the Decrypt it makes for the caller), or
        None when no path reads."""
        ids = [source.document for source in who.identity_policies]
        boundary = who.boundary.document if who.boundary is not None else None
        table = self.table or DeployedTable(self.facts.table_arn, table_policy=self.table_policy)
        key: access.Decision | None = None
        for target in targets(table):
            allowed = self._allowed(who, ids, boundary, target)
            if allowed is None:
                continue
            if target.path.decrypts:
                key = key or self._decrypt(who, ids, boundary)
                if not key.allowed:
                    continue
                allowed += f"; kms:Decrypt via DynamoDB: {_witness(key, who, self.key_policy)}"
            where = target.label
            if target.path.target_actions:
                where += ", restored into a table of its choosing"
            return f"{allowed} ({where})"
        return None

    def _allowed(self, who: Subject, ids: list[Any], boundary: Any, target: Target) -> str | None:
        """The witness that DynamoDB allows every action of the path, else None."""
        parts = []
        for action in target.path.actions:
            d = access.evaluate(
                _arn(who),
                action,
                target.resource,
                identity_policies=ids,
                resource_policy=target.resource_policy,
                permissions_boundary=boundary,
                scps=self.scps,
                rcps=self.rcps,
            )
            if not d.allowed:
                return None
            policy = target.resource_policy or {}
            parts.append(f"{action}: {_witness(d, who, policy, target.policy_name)}")
        return "; ".join(parts)

    def _decrypt(self, who: Subject, ids: list[Any], boundary: Any) -> access.Decision:
        context = decrypt_context(self.region, self.facts.table_name, account_of(_arn(who)))
        return access.evaluate(
            _arn(who),
            "kms:Decrypt",
            self.facts.key_arn,
            identity_policies=ids,
            resource_policy=self.key_policy,
            context=context,
            permissions_boundary=boundary,
            grants=list(self.grants) or None,
            scps=self.scps,
            rcps=self.rcps,
        )


def _row(who: Subject, observed: str, verdict: str, detail: str) -> ConfigRow:
    return ConfigRow(f"{CHECK}[{short_principal(_arn(who))}]", EXPECTED, observed, verdict, detail)


def reader_rows(found: Iterable[Subject], judge: Judge) -> list[ConfigRow]:
    """One MISMATCH row per undeclared identity that can read, directly or by becoming a role
    that can; a PASS row when there is none."""
    found = list(found)
    declared = {a.lower() for a in judge.facts.key_user_arns}
    rows: list[ConfigRow] = []
    readers: list[tuple[Subject, Chain]] = []
    judged = 0
    declared_readers: list[str] = []
    for who in found:
        own = _arn(who).lower() in declared
        judged += not own
        try:
            witness = judge.reads(who)
        except access.PolicyDocumentError as exc:
            if not own:
                rows.append(
                    _row(who, "", NOT_VERIFIABLE, f"cannot evaluate {_arn(who)}'s policies: {exc}")
                )
            continue
        if witness is None:
            continue
        if own:
            declared_readers.append(short_principal(_arn(who)))
        readers.append((who, Chain.start(f"as {short_principal(_arn(who))}: {witness}")))
        if not own:
            rows.append(
                _row(
                    who,
                    f"{short_principal(_arn(who))} can read",
                    MISMATCH,
                    f"{_arn(who)} is not a declared key user; {witness}",
                )
            )
    rows += _becoming(found, readers, declared, judge)
    if not rows:
        # The readers themselves, named: "nobody else" means little without who can.
        can = ", ".join(declared_readers) or "none"
        others = f"{judged} other users and roles: none can read"
        observed = f"declared key users that can read: {can}; {others}"
        rows.append(ConfigRow(CHECK, EXPECTED, observed, PASS))
    return rows


def _becoming(
    found: list[Subject],
    readers: list[tuple[Subject, Chain]],
    declared: set[str],
    judge: Judge,
) -> list[ConfigRow]:
    """Whoever can become a role that can read (sts:AssumeRole, transitively) can read too.

    The account's identities are all listed, so each is evaluated against the role's trust
    policy; the trust policy's other ways in (anyone, another account, a federated provider,
    an ARN the account does not hold) are named on the role's row.
    """
    from kmsguard.access.trust import ALL_BUT, ANYONE, entries, lets_in_undeclared

    listed = {_arn(w).lower() for w in found}
    known = {_arn(w) for w, _ in readers}
    queue = deque((w, how) for w, how in readers if w.kind == "role")
    rows: list[ConfigRow] = []
    while queue:
        role, how = queue.popleft()
        short = short_principal(_arn(role))
        try:
            if role.trust is None or not role.trust.known:
                raise access.PolicyDocumentError("AssumeRolePolicyDocument", "missing")
            ways = entries(role.trust.document)
        except access.PolicyDocumentError as exc:
            rows.append(
                _row(role, "", NOT_VERIFIABLE, f"cannot read the trust policy of {short}: {exc}")
            )
            continue
        account = account_of(_arn(role)) or ""
        outside = [e for e in ways if lets_in_undeclared(e, account, listed, declared)]
        if outside:
            rows.append(
                _row(
                    role,
                    f"undeclared principals can become {short}",
                    MISMATCH,
                    f"{_arn(role)} can read and can be assumed by principals that are not declared "
                    f"key users: {'; '.join(e.describe() for e in outside)}; {how.text()}",
                )
            )
        if any(e.kind in (ANYONE, ALL_BUT) for e in ways):
            continue  # everyone can become it: said above
        for who in found:
            if _arn(who) in known:
                continue
            try:
                d = access.evaluate(
                    _arn(who),
                    "sts:AssumeRole",
                    _arn(role),
                    identity_policies=[source.document for source in who.identity_policies],
                    resource_policy=None,
                    trust_policy=role.trust.document,
                    permissions_boundary=who.boundary.document if who.boundary else None,
                    scps=judge.scps,
                    rcps=judge.rcps,
                )
            except access.PolicyDocumentError as exc:
                rows.append(
                    _row(who, "", NOT_VERIFIABLE, f"cannot evaluate {_arn(who)}'s policies: {exc}")
                )
                known.add(_arn(who))
                continue
            if not d.allowed:
                continue
            known.add(_arn(who))
            step = how.via(f"sts:AssumeRole {_arn(role)}: {_witness(d, who, {})}")
            if _arn(who).lower() not in declared:
                rows.append(
                    _row(
                        who,
                        f"{short_principal(_arn(who))} can read",
                        MISMATCH,
                        f"{_arn(who)} is not a declared key user; {step.text()}",
                    )
                )
            if who.kind == "role":
                queue.append((who, step))
    return rows


def check_readers(
    iam: Any,
    kms: Any,
    facts: StackFacts,
    region: str,
    *,
    scps: tuple[Any, ...] = (),
    rcps: tuple[Any, ...] = (),
    dynamodb: Any = None,
) -> list[ConfigRow]:
    """List the account's identities and report each undeclared one that can read the table."""
    from verification.config_checks import fetch_key_policy
    from verification.grants import list_grants

    def fetch_policy(arn: str) -> Any:
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        return iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]

    try:
        found = identities(authorization_details(iam), fetch_policy)
        key_policy = fetch_key_policy(kms, facts.key_arn)
        grants = [
            {k: v for k, v in g.items() if k != "CreationDate"}
            for g in list_grants(kms, facts.key_arn)
        ]
        table = (
            describe(dynamodb, facts.table_name, facts.table_arn)
            if dynamodb
            else DeployedTable(facts.table_arn)
        )
    except (ClientError, BotoCoreError) as exc:
        return [
            ConfigRow(
                CHECK,
                EXPECTED,
                "",
                NOT_VERIFIABLE,
                f"cannot list the account's identities and policies ({error_code(exc)}); the admin "
                "needs iam:GetAccountAuthorizationDetails, kms:GetKeyPolicy, kms:ListGrants, "
                "dynamodb:DescribeTable and dynamodb:GetResourcePolicy (table and stream)",
            )
        ]
    except (Unreadable, ValueError) as exc:
        return [ConfigRow(CHECK, EXPECTED, "", NOT_VERIFIABLE, str(exc))]
    judge = Judge(facts, region, key_policy, grants, scps, rcps, table=table)
    rows = reader_rows(found, judge)
    outside = outsider_rows(judge, table, account_of(facts.table_arn) or "")
    return [r for r in rows if r.verdict != PASS] + outside if outside else rows
