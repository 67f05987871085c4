"""`outside_access`: any DynamoDB action a table's or stream's policy opens to another account."""

from __future__ import annotations

from typing import Any

import pytest

from kmsguard.access import decide
from kmsguard.access.policy import parse_policy
from kmsguard.access.prove.table_access import SAMPLE_INDEX, outside_access, policy_paths

A = "111122223333"
B = "444455556666"
ORG = "o-a1b2c3d4e5"
TABLE = f"arn:aws:dynamodb:us-east-1:{A}:table/Orders"
STREAM = f"{TABLE}/stream/2026-01-01T00:00:00.000"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any, action: Any, resource: Any = TABLE, **extra: Any) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
        "Resource": resource,
        **extra,
    }


def confirmed_outsiders(v: Any) -> set[str]:
    for w in v.witnesses:
        assert decide(w.to_json()["read"]).allowed
        assert w.decrypt is None
    return {w.principal for w in v.witnesses}


@pytest.mark.parametrize("action", ["dynamodb:PutItem", "dynamodb:DeleteTable", "dynamodb:*"])
def test_any_action_open_to_everyone_is_found_not_only_reads(action: str) -> None:
    v = outside_access(TABLE, table_policy=doc(allow("*", action)), limit=3)
    assert v.status == "fail"
    assert all(f"::{A}:" not in p for p in confirmed_outsiders(v))


def test_a_policy_pinned_to_the_account_or_naming_its_principals_is_closed() -> None:
    pinned = allow("*", "dynamodb:*", Condition={"StringEquals": {"aws:PrincipalAccount": A}})
    assert outside_access(TABLE, table_policy=doc(pinned)).status == "pass"
    named = allow({"AWS": f"arn:aws:iam::{A}:role/app"}, "dynamodb:*")
    assert outside_access(TABLE, table_policy=doc(named)).status == "pass"


def test_another_account_is_outside_unless_trusted() -> None:
    shared = doc(allow({"AWS": B}, "dynamodb:GetItem"))
    v = outside_access(TABLE, table_policy=shared, limit=5)
    assert v.status == "fail" and any(f"::{B}:" in p for p in confirmed_outsiders(v))
    assert outside_access(TABLE, table_policy=shared, trusted_accounts=[B]).status == "pass"


def test_an_organization_condition_is_outside_unless_the_organization_is_trusted() -> None:
    org = allow("*", "dynamodb:Query", Condition={"StringEquals": {"aws:PrincipalOrgID": ORG}})
    v = outside_access(TABLE, table_policy=doc(org))
    assert v.status == "fail" and v.witness is not None
    assert v.witness.read["context"]["aws:PrincipalOrgID"] == ORG
    assert outside_access(TABLE, table_policy=doc(org), trusted_orgs=[ORG]).status == "pass"


def test_partiql_alone_is_never_served_across_accounts() -> None:
    v = outside_access(TABLE, table_policy=doc(allow({"AWS": B}, "dynamodb:PartiQLSelect")))
    assert v.status == "pass"


def test_the_stream_policy_and_index_statements_count() -> None:
    stream = doc(allow("*", "dynamodb:GetRecords", STREAM))
    v = outside_access(TABLE, table_policy=None, stream_arn=STREAM, stream_policy=stream)
    assert v.status == "fail" and v.witness is not None and v.witness.read["resource"] == STREAM
    index = doc(allow("*", "dynamodb:Query", f"{TABLE}/index/*"))
    v = outside_access(TABLE, table_policy=index)
    assert v.status == "fail" and v.witness is not None
    assert v.witness.read["resource"] == f"{TABLE}/index/{SAMPLE_INDEX}"


def test_a_deny_for_outsiders_closes_an_open_statement() -> None:
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "dynamodb:*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalAccount": A}},
    }
    assert outside_access(TABLE, table_policy=doc(allow("*", "dynamodb:*"), deny)).status == "pass"


def test_only_actions_an_allow_covers_are_asked() -> None:
    policy = parse_policy(doc(allow("*", ["dynamodb:GetItem", "dynamodb:Query"])), kind="resource")
    paths = policy_paths(policy)
    assert sorted({p.operation for p in paths}) == ["GetItem", "Query"]
    assert outside_access(TABLE, table_policy=doc()).status == "pass"
