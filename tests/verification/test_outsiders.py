"""table.readers beyond the account: whoever the table's or stream's policy lets in from another
account reads when the key lets it decrypt too, if its own IAM policies allow it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.access import docs
from tests.verification.test_readers import ACCT, FACTS, REGION, TABLE, doc, key_policy
from verification.outsiders import outsider_rows, outsiders
from verification.read_paths import DeployedTable
from verification.readers import Judge
from verification.verdicts import MISMATCH

OTHER = "444455556666"
PARTNER = f"arn:aws:iam::{OTHER}:role/partner"
STREAM = f"{TABLE}/stream/2026-01-01T00:00:00.000"


def share(principal: Any, resource: str, action: Any = "dynamodb:*") -> dict[str, Any]:
    return doc(
        {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": action, "Resource": resource}
    )


def key_shared_with(principal: Any) -> dict[str, Any]:
    policy = key_policy()
    statement = {
        "Sid": "Partner",
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
    return {**policy, "Statement": [*policy["Statement"], statement]}


def rows(table: DeployedTable, key: dict[str, Any], facts: Any = FACTS) -> list[Any]:
    return outsider_rows(Judge(facts, REGION, key, table=table), table, ACCT)


def test_a_public_table_and_key_is_a_reader_named_anyone() -> None:
    docs.row("verify-readers-paths")
    table = DeployedTable(TABLE, table_policy=share("*", TABLE))
    [row] = rows(table, key_shared_with("*"))
    assert (row.check, row.verdict) == ("table.readers[anyone]", MISMATCH)
    assert "if they allow it" in row.detail and "(GetItem on the table)" in row.detail


def test_a_stream_shared_with_another_account_reads_when_the_key_is_shared_too() -> None:
    docs.row("verify-readers-paths")
    table = DeployedTable(
        TABLE, stream_arn=STREAM, stream_policy=share(f"arn:aws:iam::{OTHER}:root", STREAM)
    )
    assert rows(table, key_policy()) == []  # the key's root delegation is this account's only
    [row] = rows(table, key_shared_with(OTHER))
    assert row.check == f"table.readers[account {OTHER}]"
    assert row.detail.endswith("(GetRecords on the stream)"), row.detail


def test_partiql_is_no_path_for_another_account() -> None:
    docs.row("verify-readers-paths")
    table = DeployedTable(TABLE, table_policy=share(PARTNER, TABLE, "dynamodb:PartiQLSelect"))
    assert rows(table, key_shared_with(PARTNER)) == []
    table = DeployedTable(TABLE, table_policy=share(PARTNER, TABLE, "dynamodb:Query"))
    assert [r.check for r in rows(table, key_shared_with(PARTNER))] == [f"table.readers[{PARTNER}]"]


def test_a_declared_outsider_and_the_accounts_own_principals_are_no_finding() -> None:
    docs.row("verify-readers-paths")
    table = DeployedTable(TABLE, table_policy=share([PARTNER, f"arn:aws:iam::{ACCT}:root"], TABLE))
    assert outsiders(table, ACCT) == [(PARTNER, PARTNER)]
    facts = replace(FACTS, key_user_arns=(*FACTS.key_user_arns, PARTNER))
    assert rows(table, key_shared_with(PARTNER), facts) == []
