"""Any DynamoDB request a table's or stream's own policy opens to another account, any action."""

from __future__ import annotations

from collections.abc import Sequence

from kmsguard.access.arn import account_of
from kmsguard.access.catalog import catalog
from kmsguard.access.dynamodb_reads import INDEX, PARTIQL_ACTIONS, STREAM, TABLE, ReadPath
from kmsguard.access.evaluate import PolicyLike
from kmsguard.access.policy import Policy, parse_policy
from kmsguard.access.prove.readers import ReadersVerdict, readers
from kmsguard.access.prove.search import DEFAULT_TIMEOUT_S

__all__ = ["SAMPLE_INDEX", "outside_access", "policy_paths"]

# Stands for any index: a policy opening `table/<t>/index/*` is open whatever indexes exist.
SAMPLE_INDEX = "any-index"
_INDEX_ACTIONS = frozenset({"dynamodb:query", "dynamodb:scan", "dynamodb:partiqlselect"})
_STREAM_ACTIONS = frozenset(
    {"dynamodb:describestream", "dynamodb:getrecords", "dynamodb:getsharditerator"}
)


def _dynamodb_actions() -> list[str]:
    return sorted(catalog().get("dynamodb", {}).values())


def policy_paths(*policies: Policy | None) -> list[ReadPath]:
    """One request shape per DynamoDB action an Allow statement of the policies covers, on each
    resource it may name (the table, an index, the stream)."""
    allows = [st for p in policies if p is not None for st in p.statements if not st.is_deny]
    out: list[ReadPath] = []
    for action in _dynamodb_actions():
        low = action.lower()
        if not any(st.action_matches(low) for st in allows):
            continue
        across = low not in PARTIQL_ACTIONS
        kinds = [STREAM] if low in _STREAM_ACTIONS else [TABLE]
        if low in _INDEX_ACTIONS:
            kinds.append(INDEX)
        name = action[len("dynamodb:") :]
        out += [ReadPath(name, (action,), k, False, across) for k in kinds]
    return out


def outside_access(
    table_arn: str,
    *,
    table_policy: PolicyLike | None,
    stream_arn: str | None = None,
    stream_policy: PolicyLike | None = None,
    indexes: Sequence[str] = (),
    trusted_accounts: Sequence[str] = (),
    trusted_orgs: Sequence[str] = (),
    timeout_s: float = DEFAULT_TIMEOUT_S,
    limit: int = 1,
) -> ReadersVerdict:
    """pass when the table's and stream's resource-based policies allow no DynamoDB action at
    all (reads, writes, configuration) to a principal outside the table's account and the
    trusted accounts and organizations, whatever the key and its own IAM policies say: the
    question IAM Access Analyzer's CheckNoPublicAccess asks, over every condition value."""
    tp = None if table_policy is None else _parse(table_policy)
    sp = None if stream_policy is None else _parse(stream_policy)
    paths = policy_paths(tp, sp)
    if not paths:
        return ReadersVerdict("pass", reason="no statement allows a DynamoDB action")
    account = account_of(table_arn) or ""
    return readers(
        table_arn,
        key_policy=None,
        table_policy=tp,
        stream_arn=stream_arn,
        stream_policy=sp,
        indexes=[*indexes, SAMPLE_INDEX],
        trusted_accounts=[account, *trusted_accounts] if account else list(trusted_accounts),
        trusted_orgs=trusted_orgs,
        timeout_s=timeout_s,
        limit=limit,
        paths=paths,
    )


def _parse(doc: PolicyLike) -> Policy:
    return doc if isinstance(doc, Policy) else parse_policy(doc, kind="resource")
