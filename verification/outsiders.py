"""Principals the table's and stream's resource-based policies name outside the account: each
is a reader when a read path and the key's Decrypt allow it, if its own IAM policies allow it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from kmsguard import access
from kmsguard.access.arn import account_of, iam_identity, is_account_id, parse_arn
from kmsguard.access.subject import PolicySource, Subject
from verification.read_paths import DeployedTable
from verification.verdicts import MISMATCH, NOT_VERIFIABLE, ConfigRow

# An account id no deployment holds: whoever a policy names as "*" is judged as its principal.
ANYONE_ACCOUNT = "000000000000"
# What another account's principal's own IAM policies may allow: only that account can tell.
ITS_OWN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def _named(policy: Mapping[str, Any] | None) -> Iterator[str]:
    """Every AWS principal an Allow statement of `policy` names, as written."""
    statements = (policy or {}).get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        values: Any = principal.get("AWS", []) if isinstance(principal, Mapping) else principal
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, str):
                yield value


def representative(value: str, partition: str) -> tuple[str, str] | None:
    """(how the report names it, the principal judged) for a name in a resource policy: a user
    or role is itself; an account (`:root` or a bare id) and anyone (`*`) are judged as one of
    their principals."""
    if value == "*":
        return "anyone", f"arn:{partition}:iam::{ANYONE_ACCOUNT}:user/anyone"
    arn = parse_arn(value)
    account = value if is_account_id(value) else arn.account if arn and arn.is_account_root else ""
    if account:
        return f"account {account}", f"arn:{partition}:iam::{account}:user/any-principal"
    return (value, value) if iam_identity(value) is not None else None


def outsiders(table: DeployedTable, account: str) -> list[tuple[str, str]]:
    """The principals of other accounts the table's and stream's policies let in, in order."""
    arn = parse_arn(table.table_arn)
    partition = arn.partition if arn is not None else "aws"
    found: dict[tuple[str, str], None] = {}
    for policy in (table.table_policy, table.stream_policy):
        for value in _named(policy):
            who = representative(value, partition)
            if who is not None and account_of(who[1]) != account:
                found[who] = None
    return list(found)


def outsider_rows(judge: Any, table: DeployedTable, account: str) -> list[ConfigRow]:
    """A MISMATCH row per undeclared outsider that reads through some path."""
    from verification.readers import CHECK, EXPECTED

    declared = {a.lower() for a in judge.facts.key_user_arns}
    rows = []
    for name, arn in outsiders(table, account):
        if arn.lower() in declared:
            continue
        own = PolicySource("its own IAM policies, if they allow it", ITS_OWN)
        who = Subject(arn, "user", (own,))
        check = f"{CHECK}[{name}]"
        try:
            witness = judge.reads(who)
        except access.PolicyDocumentError as exc:
            rows.append(ConfigRow(check, EXPECTED, "", NOT_VERIFIABLE, f"cannot evaluate: {exc}"))
            continue
        if witness is not None:
            detail = f"{name} is outside the account and not a declared key user; {witness}"
            rows.append(ConfigRow(check, EXPECTED, f"{name} can read", MISMATCH, detail))
    return rows
