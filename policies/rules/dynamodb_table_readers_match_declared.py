"""dynamodb-table-readers-match-declared: who can read a table's items is who was declared."""

from __future__ import annotations

from itertools import product
from typing import TYPE_CHECKING, Any

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs

from kmsguard.access.dynamodb_reads import READ_PATHS
from kmsguard.access.key_users import declared_readers
from kmsguard.contract import AwsType, account_root_arn
from kmsguard.org_policies import OrgPolicies
from kmsguard.rule_text import TABLE_READERS
from policies.meta import Findings, RuleMeta, config_of, stack_policy, str_list
from policies.rules._common import ACCOUNT_ID_ITEM, ORG_ID_ITEM, PROVER_TIMEOUT, prover_timeout
from policies.rules._principals import PrincipalReach
from policies.rules._stack_access_org import read_org
from policies.rules._table_readers import KeySide, check_exports, identities, key_sides, said
from policies.rules._table_readers import reaching as _who
from policies.stack.graph import Node, StackView
from policies.stack.principals import stack_subjects
from policies.table_policies import (
    ON_EITHER,
    ON_STREAM,
    ON_TABLE,
    TableFacts,
    TableIndex,
    table_facts,
)
from policies.values import Unknown

if TYPE_CHECKING:
    from kmsguard.access.prove import ReadersVerdict

META = RuleMeta(
    name=TABLE_READERS.name,
    description=TABLE_READERS.description,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity(TABLE_READERS.severity),
    remediation=TABLE_READERS.remediation,
    no_remediation=(
        "who is meant to read the data is the author's decision; narrowing a policy by guess "
        "could cut off a legitimate reader or keep the wrong one"
    ),
    config={
        "trustedAccounts": {
            "type": "array",
            "items": ACCOUNT_ID_ITEM,
            "default": [],
            "description": "Accounts whose principals may read the stack's tables.",
        },
        "trustedOrganizations": {
            "type": "array",
            "items": ORG_ID_ITEM,
            "default": [],
            "description": "Organization ids whose principals may read the stack's tables.",
        },
        "extraDeclaredReaders": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Principal ARNs allowed to read besides the key users.",
        },
        "serviceControlPolicies": {
            "type": "array",
            "items": {"type": "object"},
            "default": [],
            "description": "The organization's SCP documents, one per level: each must allow.",
        },
        "resourceControlPolicies": {
            "type": "array",
            "items": {"type": "object"},
            "default": [],
            "description": "The organization's RCP documents, one per level: each must allow.",
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
        "table-account-unknown": "the table's account is unknown during preview (deferred)",
        "resource-policy-unknown": "a table or stream policy is unknown (deferred)",
        "resource-policy-unreadable": "a table or stream policy cannot be read, so is not closed",
        "outside-access": "a table or stream policy opens DynamoDB to an untrusted account",
        "undeclared-reader": "a principal that is not a declared reader can read the items",
        "prover-unanswered": "the prover could not answer in time or at all (deferred)",
        "export-owner-unknown": "the bucket owner of an export is unknown (deferred)",
        "export-to-untrusted-account": "an export writes items to an untrusted account's bucket",
        "key-unknown": "the table's key is unknown during preview (deferred)",
        "key-policy-unknown": "the key policy is unknown during preview (deferred)",
        "key-account-unknown": "the key has AWS's default policy and no known account (deferred)",
        "grant-unknown": "a grant on the key cannot be read during preview (deferred)",
        "principal-arn-unknown": "a stack principal's ARN is unknown during preview (deferred)",
        "principal-policies-unknown": "a principal's policies are unknown (deferred)",
    },
)


class _Table:
    """One table's question, in the stack's words: facts, stand-in ARNs, findings."""

    def __init__(
        self,
        view: StackView,
        table: Node,
        config: dict[str, Any],
        org: OrgPolicies,
        index: TableIndex,
    ) -> None:
        self.view, self.config, self.org = view, config, org
        self.facts: TableFacts = table_facts(view, table, index)
        self.where = f"Table {table.name!r}"
        self.account = self.facts.account or view.account_id
        name = self.facts.name or table.name
        self.arn = self.facts.arn or f"arn:aws:dynamodb:{view.region()}:{self.account}:table/{name}"
        # A stream that may exist counts: streamEnabled unknown now is a stream to judge.
        self.stream_arn = None
        if self.facts.stream is not False:
            self.stream_arn = self.facts.stream_arn or f"{self.arn}/stream/any"
        self.trusted = str_list(config["trustedAccounts"])
        self.orgs = str_list(config["trustedOrganizations"])
        self.timeout = prover_timeout(config)

    def placements(self, findings: Findings) -> list[tuple[Any, Any]] | None:
        """Each (table policy, stream policy) pair AWS may end up with; None: deferred."""
        tables: list[Any] = []
        streams: list[Any] = []
        for p in self.facts.policies:
            what = f"{self.where}: ResourcePolicy {p.node.name!r}"
            if isinstance(p.document, Unknown):
                findings.defer(
                    META.finding(
                        "resource-policy-unknown",
                        what,
                        "the policy is unknown during preview",
                        {"policy": p.node.name},
                    )
                )
                return None
            if p.document is None:
                # Never a silent pass: a policy nobody can read cannot be shown to be closed.
                problem = p.problem or "the policy document is missing"
                findings.violation(
                    META.finding(
                        "resource-policy-unreadable",
                        what,
                        f"cannot tell who it lets in: {problem}",
                        {"policy": p.node.name, "problem": problem},
                        urn=p.node.urn,
                    )
                )
                return None
            if p.target in (ON_TABLE, ON_EITHER):
                tables.append(p.document)
            if p.target in (ON_STREAM, ON_EITHER) and self.stream_arn is not None:
                streams.append(p.document)
        return list(product(tables or [None], streams or [None]))

    def indexes(self) -> list[str]:
        from kmsguard.access.prove.table_access import SAMPLE_INDEX

        names = list(self.facts.indexes)
        return [*names, SAMPLE_INDEX] if self.facts.indexes_unknown else names

    def check_outside(self, table_policy: Any, stream_policy: Any, findings: Findings) -> None:
        from kmsguard.access import PolicyDocumentError
        from kmsguard.access.prove.table_access import outside_access

        if table_policy is None and stream_policy is None:
            return
        try:
            v = outside_access(
                self.arn,
                table_policy=table_policy,
                stream_arn=self.stream_arn,
                stream_policy=stream_policy,
                indexes=self.indexes(),
                trusted_accounts=self.trusted,
                trusted_orgs=self.orgs,
                timeout_s=self.timeout,
            )
        except (PolicyDocumentError, ValueError) as exc:
            findings.violation(
                META.finding(
                    "resource-policy-unreadable",
                    self.where,
                    f"cannot tell who its resource policy lets in: {exc}",
                    {"problem": str(exc)},
                )
            )
            return
        found = self.found(v, findings)
        if found is not None:
            shown, witness = found
            findings.violation(
                META.finding(
                    "outside-access",
                    self.where,
                    f"open to a principal outside the account and the trusted ones: {shown}",
                    witness,
                    urn=self.facts.node.urn,
                )
            )

    def check_readers(
        self,
        key: KeySide,
        table_policy: Any,
        stream_policy: Any,
        principals: tuple[dict[str, list[Any]], dict[str, Any]],
        reaches: list[PrincipalReach],
        findings: Findings,
    ) -> None:
        from kmsguard.access import PolicyDocumentError
        from kmsguard.access.prove import readers

        every_id, every_bound = principals
        idents = {self.arn, *(f"{self.arn}/index/{i}" for i in self.indexes())}
        if self.stream_arn is not None:
            idents.add(self.stream_arn)
        reaching = _who(idents, (table_policy, stream_policy), reaches[1:])
        decrypting = key.may_decrypt(reaches[0])
        if reaching is None or decrypting is None:
            reaching = decrypting if reaching is None else reaching
        else:
            # A reader needs both sides: whoever the key cannot serve never reads.
            reaching &= decrypting
        ids = every_id if reaching is None else {a: every_id[a] for a in reaching if a in every_id}
        bounds = {a: b for a, b in every_bound.items() if a in ids}
        extra = str_list(self.config["extraDeclaredReaders"])
        declared = declared_readers(key.users, extra, account_root_arn(self.account))
        try:
            v = readers(
                self.arn,
                key_policy=key.policy,
                key_arn=key.arn,
                table_policy=table_policy,
                stream_arn=self.stream_arn,
                stream_policy=stream_policy,
                indexes=self.indexes(),
                identities=ids,
                closed_accounts=[self.account],
                boundaries=bounds,
                scps=self.org.scps,
                rcps=self.org.rcps,
                grants=key.grants,
                declared=declared,
                trusted_accounts=self.trusted,
                trusted_orgs=self.orgs,
                timeout_s=self.timeout,
                limit=3,
                find_missing=False,  # a key user who cannot read is not this rule's finding
            )
        except (PolicyDocumentError, ValueError) as exc:
            findings.defer(
                META.finding(
                    "prover-unanswered",
                    self.where,
                    f"cannot prove who can read it: {exc}",
                    {"reason": str(exc)},
                )
            )
            return
        found = self.found(v, findings)
        if found is not None:
            shown, witness = found
            findings.violation(
                META.finding(
                    "undeclared-reader",
                    self.where,
                    f"readable by principals that are not declared readers{key.note}: {shown}",
                    witness,
                    urn=self.facts.node.urn,
                )
            )

    def found(self, v: ReadersVerdict, findings: Findings) -> tuple[str, dict[str, Any]] | None:
        """(the witnesses as said, as data) when the verdict fails; an unanswered one defers."""
        if v.status == "unknown":
            findings.defer(
                META.finding(
                    "prover-unanswered",
                    self.where,
                    f"who can read it is unanswered: {v.reason}",
                    {"reason": v.reason},
                )
            )
        elif v.status == "fail":
            more = "" if v.complete else "; more kinds may exist"
            shown = "; ".join(said(w, self.facts.stream_view) for w in v.witnesses)
            witness = {"witnesses": [w.to_json() for w in v.witnesses], "complete": v.complete}
            return f"{shown}{more}", witness
        return None


def validate(args: StackValidationArgs, report: ReportViolation) -> None:
    findings = Findings(report, META)
    config = config_of(META, args)
    account = config["accountId"] if isinstance(config["accountId"], str) else ""
    view = StackView.shared(args.resources, account)
    org = read_org(config, findings)
    if org is None:
        findings.finish()
        return
    tables = view.of_type(AwsType.DYNAMODB_TABLE)
    principals = identities(view, findings) if tables else ({}, {})
    # Indexed once: each table is offered only the principals that may reach it.
    actions = sorted({a for path in READ_PATHS if path.returns_items for a in path.actions})
    # The first: who may decrypt (an identity Allow for kms:Decrypt); then one per read action.
    subjects = stack_subjects(view) if tables else []
    reaches = [PrincipalReach(subjects, a) for a in ["kms:Decrypt", *actions]] if tables else []
    index = TableIndex.of(view)
    for table in tables:
        t = _Table(view, table, config, org, index)
        if not t.account:
            findings.defer(
                META.finding(
                    "table-account-unknown",
                    t.where,
                    "who can read it depends on its account, unknown until its ARN is; set "
                    "aws:allowedAccountIds in the stack config to judge it during preview",
                )
            )
            continue
        check_exports(t.facts, t.where, {t.account, *t.trusted}, findings)
        pairs = t.placements(findings)
        keys = key_sides(view, t.facts, t.where, findings)
        if pairs is None:
            continue
        for table_policy, stream_policy in pairs:
            t.check_outside(table_policy, stream_policy, findings)
            for key in keys or []:
                t.check_readers(key, table_policy, stream_policy, principals, reaches, findings)
    findings.finish()


POLICY = stack_policy(META, validate)
