"""The inputs of the `readers` question: a table, its key, and who may be asking."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kmsguard.access.arn import account_of, is_account_id, parse_arn
from kmsguard.access.dynamodb_context import decrypt_context
from kmsguard.access.dynamodb_reads import BACKUP, INDEX, READ_PATHS, STREAM, TABLE, ReadPath
from kmsguard.access.errors import PolicyDocumentError
from kmsguard.access.evaluate import PolicyLike
from kmsguard.access.grants import Grant, parse_grant
from kmsguard.access.names import fold_principal
from kmsguard.access.policy import Policy, parse_policy
from kmsguard.access.prove.universe import KEY_ID

DECRYPT = "kms:Decrypt"
# An IAM or STS principal's ARN (12-digit account) or a service principal, as a request names
# its caller.
_PRINCIPAL = re.compile(r"arn:[\w-]+:(iam|sts)::[0-9]{12}:\S+|[a-z0-9.-]+\.amazonaws\.com(\.cn)?")
# A backup's id as DynamoDB writes it (14 digits, a dash, 8 characters): any one stands for all.
SAMPLE_BACKUP = "backup/01234567890123-abcdefgh"


@dataclass(frozen=True)
class Setup:
    """Everything that decides who reads one table: its policies and the caller-side layers."""

    table_arn: str
    key_arn: str  # the table's customer managed key; a stand-in when `key_policy` is None
    key_policy: Policy | None  # None: an AWS owned or AWS managed key (only DynamoDB decides)
    table_policy: Policy | None
    stream_arn: str | None
    stream_policy: Policy | None
    indexes: tuple[str, ...]
    identities: Mapping[str, Sequence[Policy]]
    closed_accounts: frozenset[str]
    boundaries: Mapping[str, Policy]
    scps: tuple[Policy, ...]
    scp_accounts: frozenset[str]
    rcps: tuple[Policy, ...]
    grants: tuple[Grant, ...]
    declared: tuple[str, ...] = ()
    trusted_accounts: tuple[str, ...] = ()
    trusted_orgs: tuple[str, ...] = ()
    paths: tuple[ReadPath, ...] = ()  # empty: every path that returns items

    @property
    def read_paths(self) -> tuple[ReadPath, ...]:
        return self.paths or tuple(reading_paths())

    @property
    def account(self) -> str:
        found = parse_arn(self.table_arn)
        return found.account if found is not None else ""

    @property
    def region(self) -> str:
        found = parse_arn(self.table_arn)
        return found.region if found is not None else ""

    @property
    def table_name(self) -> str:
        found = parse_arn(self.table_arn)
        return found.resource.split("/", 1)[1] if found is not None else ""

    def resources(self, path: ReadPath) -> list[tuple[str, Policy | None]]:
        """The ARNs a path's request may name, each with the resource policy that governs it."""
        if path.resource == TABLE:
            return [(self.table_arn, self.table_policy)]
        if path.resource == INDEX:
            return [(f"{self.table_arn}/index/{i}", self.table_policy) for i in self.indexes]
        if path.resource == STREAM:
            return [] if self.stream_arn is None else [(self.stream_arn, self.stream_policy)]
        assert path.resource == BACKUP
        return [(f"{self.table_arn}/{SAMPLE_BACKUP}", None)]

    @property
    def restore_target(self) -> str:
        """The table a restore creates, in the table's account: the caller's to control."""
        return f"{self.table_arn}-restored"

    def decrypt_context(self, caller_account: str) -> dict[str, str]:
        """The request context DynamoDB adds when it calls kms:Decrypt for the caller."""
        return decrypt_context(self.region, self.table_name, caller_account)

    def only_declared_reach(self) -> bool:
        """Without a table or stream policy, in a closed account, DynamoDB allows a read only to
        the account's root and to principals whose identity policies allow it: when no such
        policy of an undeclared principal covers a read path (conditions aside), nobody else
        reads, and the solver is not needed (the common case of a stack's table)."""
        if self.table_policy is not None or self.stream_policy is not None:
            return False
        if self.account not in self.closed_accounts:
            return False
        declared = {fold_principal(p) for p in self.declared}
        found = parse_arn(self.table_arn)
        partition = found.partition if found is not None else "aws"
        if f"arn:{partition}:iam::{self.account}:root" not in declared:
            return False  # the account's root reads its own table unless the key stops it
        requests = [
            (a.lower(), resource)
            for path in self.read_paths
            for resource, _ in self.resources(path)
            for a in path.actions
        ]
        for arn, docs in self.identities.items():
            if fold_principal(arn) in declared or account_of(arn) in self.trusted_accounts:
                continue
            for pol in docs:
                for st in pol.statements:
                    if st.is_deny:
                        continue
                    if st.dynamic_resources:
                        return False  # the resource depends on the request: ask the solver
                    if any(
                        st.action_matches(a) and st.resource_matches(r, {}) for a, r in requests
                    ):
                        return False
        return True

    def all_policies(self) -> list[Policy]:
        out = [p for p in (self.key_policy, self.table_policy, self.stream_policy) if p]
        out += [p for docs in self.identities.values() for p in docs]
        return [*out, *self.boundaries.values(), *self.scps, *self.rcps]


def reading_paths() -> list[ReadPath]:
    """The paths that return item data (DescribeStream and GetShardIterator reach none)."""
    return [p for p in READ_PATHS if p.returns_items]


def build_setup(
    table_arn: str,
    key_policy: PolicyLike | None,
    key_arn: str | None,
    table_policy: PolicyLike | None,
    stream_arn: str | None,
    stream_policy: PolicyLike | None,
    indexes: Sequence[str],
    identities: Mapping[str, Sequence[PolicyLike]],
    closed_accounts: Sequence[str],
    boundaries: Mapping[str, PolicyLike],
    scps: Sequence[PolicyLike],
    scp_accounts: Sequence[str] | None,
    rcps: Sequence[PolicyLike],
    grants: Sequence[Mapping[str, Any] | Grant],
    declared: Sequence[str],
    trusted_accounts: Sequence[str],
    trusted_orgs: Sequence[str],
    paths: Sequence[ReadPath] = (),
) -> Setup:
    table = parse_arn(table_arn)
    if table is None or table.service != "dynamodb" or not _is_table(table.resource):
        raise ValueError(
            f"table {table_arn!r} is not a DynamoDB table ARN "
            "(arn:<partition>:dynamodb:<region>:<account>:table/<name>)"
        )
    account = table.account
    if key_arn is None:
        key_arn = f"arn:{table.partition}:kms:{table.region}:{account}:key/{KEY_ID}"
    elif account_of(key_arn) != account or ":key/" not in key_arn:
        raise ValueError(
            f"key {key_arn!r}: a table's key is a KMS key ARN of the table's account {account}"
        )
    if (stream_arn is None) != (stream_policy is None) and stream_policy is not None:
        raise ValueError("stream_policy without stream_arn: give the stream's ARN too")
    if stream_arn is not None and not stream_arn.startswith(f"{table_arn}/stream/"):
        raise ValueError(f"stream {stream_arn!r} is not a stream of {table_arn}")
    for i in indexes:
        if not i or "/" in i:
            raise ValueError(f"index name {i!r}: a name without '/'")
    for a in [*closed_accounts, *trusted_accounts, *(scp_accounts or ())]:
        if not is_account_id(a):
            raise ValueError(f"{a!r} is not a 12-digit AWS account id")
    for what, names in (
        ("declared", declared),
        ("identities", identities),
        ("boundaries", boundaries),
    ):
        for name in names:
            if not isinstance(name, str) or not _PRINCIPAL.fullmatch(name):
                raise ValueError(
                    f"{what}: {name!r} is not a principal; allowed: an IAM ARN with a 12-digit "
                    "account (arn:aws:iam::<account>:user/<name>, :role/<name>, :root, "
                    "arn:aws:sts::<account>:assumed-role/<role>/<session>) or a service "
                    "principal (<service>.amazonaws.com)"
                )
    return Setup(
        table_arn=table_arn,
        key_arn=key_arn,
        key_policy=None if key_policy is None else _resource(key_policy, "key_policy"),
        table_policy=None if table_policy is None else _resource(table_policy, "table_policy"),
        stream_arn=stream_arn,
        stream_policy=None if stream_policy is None else _resource(stream_policy, "stream_policy"),
        indexes=tuple(indexes),
        identities={
            arn: [_identity(d, f"identities[{arn}][{i}]") for i, d in enumerate(docs)]
            for arn, docs in identities.items()
        },
        closed_accounts=frozenset(closed_accounts),
        boundaries={arn: _identity(d, f"boundaries[{arn}]") for arn, d in boundaries.items()},
        scps=tuple(_identity(d, f"scps[{i}]") for i, d in enumerate(scps)),
        scp_accounts=frozenset(scp_accounts if scp_accounts is not None else (account,)),
        rcps=tuple(_resource(d, f"rcps[{i}]") for i, d in enumerate(rcps)),
        grants=tuple(parse_grant(g, f"grants[{i}]") for i, g in enumerate(grants)),
        declared=tuple(declared),
        trusted_accounts=tuple(trusted_accounts),
        trusted_orgs=tuple(trusted_orgs),
        paths=tuple(paths),
    )


def _is_table(resource: str) -> bool:
    parts = resource.split("/")
    return len(parts) == 2 and parts[0] == "table" and bool(parts[1])


def _resource(doc: PolicyLike, label: str) -> Policy:
    if isinstance(doc, Policy) and doc.kind == "resource":
        return doc
    try:
        return parse_policy(doc, kind="resource")
    except PolicyDocumentError as exc:
        raise exc.within(label) from None


def _identity(doc: PolicyLike, label: str) -> Policy:
    if isinstance(doc, Policy) and doc.kind == "identity":
        return doc
    try:
        return parse_policy(doc, kind="identity")
    except PolicyDocumentError as exc:
        raise exc.within(label) from None
