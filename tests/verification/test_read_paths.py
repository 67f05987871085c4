"""table.readers judges every read path: the table, its indexes, its stream (its own policy),
exports and restores, each with the key's Decrypt where it returns items."""

from __future__ import annotations

from typing import Any

import pytest

from kmsguard.access.dynamodb_reads import READ_PATHS
from tests.access import docs
from tests.verification.test_readers import (
    ACCT,
    FACTS,
    INTRUDER,
    KEY,
    REGION,
    TABLE,
    doc,
    group_details,
    key_policy,
)
from verification.account import identities
from verification.read_paths import DeployedTable, targets
from verification.readers import Judge, reader_rows
from verification.verdicts import MISMATCH, PASS

STREAM = f"{TABLE}/stream/2026-01-01T00:00:00.000"
DECRYPT = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY}


def rows(policy: Any, table: DeployedTable) -> list[Any]:
    judge = Judge(FACTS, REGION, key_policy(), table=table)
    return reader_rows(identities(group_details(policy)), judge)


def allow(action: str, resource: str, *more: dict[str, Any]) -> dict[str, Any]:
    return doc(DECRYPT, {"Effect": "Allow", "Action": action, "Resource": resource}, *more)


def test_every_item_returning_read_path_is_a_target_on_each_resource() -> None:
    docs.row("verify-readers-paths")
    table = DeployedTable(TABLE, ("byv", "lsi"), STREAM)
    found = {(t.path.operation, t.resource) for t in targets(table)}
    for path in READ_PATHS:
        on = [r for op, r in found if op == path.operation]
        assert on or not path.returns_items, path
    assert ("Query", f"{TABLE}/index/lsi") in found
    assert ("GetRecords", STREAM) in found
    assert not any(op in ("DescribeStream", "GetShardIterator") for op, _ in found)


@pytest.mark.parametrize(
    ("action", "resource", "path"),
    [
        ("dynamodb:Query", f"{TABLE}/index/*", "Query on the index byv"),
        ("dynamodb:Scan", f"{TABLE}/index/byv", "Scan on the index byv"),
        ("dynamodb:GetRecords", f"{TABLE}/stream/*", "GetRecords on the stream"),
        ("dynamodb:ExportTableToPointInTime", TABLE, "ExportTableToPointInTime on the table"),
        ("dynamodb:RestoreTableFromBackup", f"{TABLE}/backup/*", "RestoreTableFromBackup"),
    ],
)
def test_a_read_path_beside_the_tables_own_actions_is_found(
    action: str, resource: str, path: str
) -> None:
    docs.row("verify-readers-paths")
    deployed = DeployedTable(TABLE, ("byv",), STREAM)
    [row] = rows(allow(action, resource), deployed)
    assert (row.check, row.verdict) == ("table.readers[user/intruder]", MISMATCH)
    assert f"{action}: inline policy read of group readers statement 1" in row.detail
    assert f"({path}" in row.detail
    assert "kms:Decrypt via DynamoDB: root delegation in key policy" in row.detail


def test_a_stream_policy_is_the_streams_alone() -> None:
    docs.row("verify-readers-paths")
    grant = {
        "Sid": "LetIntruderRead",
        "Effect": "Allow",
        "Principal": {"AWS": INTRUDER},
        "Action": "dynamodb:*",
        "Resource": [STREAM, TABLE],
    }
    only_decrypt = doc(DECRYPT)
    # On the stream, the stream's policy allows on its own (same account).
    deployed = DeployedTable(TABLE, (), STREAM, stream_policy=doc(grant))
    [row] = rows(only_decrypt, deployed)
    assert row.verdict == MISMATCH
    assert "dynamodb:GetRecords: stream resource policy statement 'LetIntruderRead'" in row.detail
    assert row.detail.endswith("(GetRecords on the stream)")
    # The same statements as the table's policy open the table, never the stream.
    deployed = DeployedTable(TABLE, (), STREAM, table_policy=doc({**grant, "Resource": STREAM}))
    assert [r.verdict for r in rows(only_decrypt, deployed)] == [PASS]


def test_attack_no_path_reads_without_the_key() -> None:
    docs.row("verify-readers-paths")
    everything = doc({"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"})
    deployed = DeployedTable(TABLE, ("byv",), STREAM)
    assert [r.verdict for r in rows(everything, deployed)] == [PASS]
    deny = {"Effect": "Deny", "Action": "dynamodb:GetRecords", "Resource": "*"}
    reads = rows(
        doc(DECRYPT, {"Effect": "Allow", "Action": "dynamodb:GetRecords", "Resource": "*"}, deny),
        deployed,
    )
    assert [r.verdict for r in reads] == [PASS]


def test_a_stack_without_index_or_stream_has_only_the_tables_paths() -> None:
    docs.row("verify-readers-paths")
    assert [r.verdict for r in rows(allow("dynamodb:Query", "*"), DeployedTable(TABLE))] == [
        MISMATCH
    ]
    only_elsewhere = allow("dynamodb:GetRecords", f"arn:aws:dynamodb:{REGION}:{ACCT}:table/*")
    assert [r.verdict for r in rows(only_elsewhere, DeployedTable(TABLE))] == [PASS]
