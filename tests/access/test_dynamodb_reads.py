"""DynamoDB table, index and stream policies in the evaluator, and the table of read paths."""

from __future__ import annotations

import pytest

from kmsguard.access import PolicyDocumentError, evaluate
from kmsguard.access.dynamodb_reads import (
    BACKUP,
    INDEX,
    READ_PATHS,
    STREAM,
    TABLE,
    cross_account_refusal,
    policy_holder,
)
from tests.access.docs import (
    ACCT,
    ALICE,
    EVE,
    OTHER,
    OTHER_ROOT,
    ROLE,
    ROOT,
    SESSION,
    aws,
    doc,
    row,
    stmt,
)
from tests.access.docs import TABLE as TABLE_ARN

INDEX_ARN = f"{TABLE_ARN}/index/by-date"
STREAM_ARN = f"{TABLE_ARN}/stream/2024-01-01T00:00:00.000"
BACKUP_ARN = f"{TABLE_ARN}/backup/01700000000000-abcdef12"
ANY_DDB = doc(stmt(action="dynamodb:*"))


def _table_policy(principal: str, action: str = "dynamodb:*", effect: str = "Allow") -> dict:
    resources = [TABLE_ARN, f"{TABLE_ARN}/index/*", f"{TABLE_ARN}/stream/*"]
    return doc(stmt(effect, action, resources, principal=aws(principal)))


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("dynamodb:GetItem", TABLE_ARN),
        ("dynamodb:BatchGetItem", TABLE_ARN),
        ("dynamodb:Query", INDEX_ARN),
        ("dynamodb:Scan", INDEX_ARN),
        ("dynamodb:PartiQLSelect", TABLE_ARN),
        ("dynamodb:GetRecords", STREAM_ARN),
        ("dynamodb:ExportTableToPointInTime", TABLE_ARN),
    ],
)
def test_same_account_the_resource_policy_alone_allows(action: str, resource: str) -> None:
    row("ddb-rbp-same-account")
    d = evaluate(
        ALICE, action, resource, identity_policies=[], resource_policy=_table_policy(ALICE)
    )
    assert d.allowed, d.detail
    assert d.statements[0].policy == "resource"


def test_same_account_a_deny_in_the_table_policy_beats_an_identity_allow() -> None:
    row("ddb-rbp-same-account")
    deny = _table_policy(ALICE, "dynamodb:Query", "Deny")
    d = evaluate(
        ALICE, "dynamodb:Query", INDEX_ARN, identity_policies=[ANY_DDB], resource_policy=deny
    )
    assert d.effect == "explicit_deny"


def test_a_table_policy_on_the_table_arn_alone_does_not_cover_its_indexes() -> None:
    row("ddb-rbp-same-account")
    only_table = doc(stmt(action="dynamodb:Query", resource=TABLE_ARN, principal=aws(ALICE)))
    d = evaluate(
        ALICE, "dynamodb:Query", INDEX_ARN, identity_policies=[], resource_policy=only_table
    )
    assert not d.allowed


@pytest.mark.parametrize("resource", [TABLE_ARN, INDEX_ARN, STREAM_ARN])
def test_cross_account_needs_both_the_identity_and_the_resource_policy(resource: str) -> None:
    row("ddb-rbp-cross-account")
    action = "dynamodb:GetRecords" if "/stream/" in resource else "dynamodb:Query"
    shared = _table_policy(EVE)
    alone = evaluate(EVE, action, resource, identity_policies=[], resource_policy=shared)
    assert not alone.allowed and "cross-account" in alone.detail
    no_rbp = evaluate(EVE, action, resource, identity_policies=[ANY_DDB], resource_policy=None)
    assert not no_rbp.allowed
    both = evaluate(EVE, action, resource, identity_policies=[ANY_DDB], resource_policy=shared)
    assert both.allowed
    # Delegating to the other account's root is enough for the resource side.
    delegated = _table_policy(OTHER_ROOT)
    assert evaluate(
        EVE, action, resource, identity_policies=[ANY_DDB], resource_policy=delegated
    ).allowed


def test_cross_account_partiql_is_never_served() -> None:
    row("ddb-partiql-cross-account")
    for verb in ("Select", "Insert", "Update", "Delete"):
        action = f"dynamodb:PartiQL{verb}"
        for resource in (TABLE_ARN, INDEX_ARN):
            d = evaluate(
                EVE,
                action,
                resource,
                identity_policies=[ANY_DDB],
                resource_policy=_table_policy(EVE),
            )
            assert d.effect == "implicit_deny", (action, resource)
            assert "PartiQL" in d.detail and "cross-account" in d.detail
    # The same request in the table's own account stays allowed; so does GetItem across accounts.
    assert evaluate(
        ALICE,
        "dynamodb:PartiQLSelect",
        TABLE_ARN,
        identity_policies=[ANY_DDB],
        resource_policy=None,
    ).allowed
    assert evaluate(
        EVE,
        "dynamodb:GetItem",
        TABLE_ARN,
        identity_policies=[ANY_DDB],
        resource_policy=_table_policy(EVE),
    ).allowed
    # Lower-case and mixed-case action names are the same action.
    assert cross_account_refusal("DYNAMODB:partiqlselect", OTHER, TABLE_ARN) is not None
    assert cross_account_refusal("dynamodb:PartiQLSelect", ACCT, TABLE_ARN) is None


@pytest.mark.parametrize(
    "resource",
    [
        BACKUP_ARN,
        f"arn:aws:dynamodb:us-east-1:{ACCT}:table/orders/export/01700000000000-abcdef12",
        f"arn:aws:dynamodb:us-east-1:{ACCT}:table/orders/import/01700000000000-abcdef12",
        f"arn:aws:dynamodb::{ACCT}:global-table/orders",
    ],
)
def test_a_resource_policy_on_a_backup_export_or_import_is_refused(resource: str) -> None:
    row("ddb-rbp-holders")
    with pytest.raises(PolicyDocumentError) as info:
        evaluate(
            ALICE,
            "dynamodb:RestoreTableFromBackup",
            resource,
            identity_policies=[],
            resource_policy=_table_policy(ALICE),
        )
    assert "tables" in str(info.value) and "streams" in str(info.value)
    # Without one, the identity policy decides as usual.
    assert evaluate(
        ALICE,
        "dynamodb:RestoreTableFromBackup",
        resource,
        identity_policies=[ANY_DDB],
        resource_policy=None,
    ).allowed


def test_the_account_root_may_always_delete_a_table_policy() -> None:
    row("ddb-root-delete-policy")
    lockout = _table_policy(ROOT, "dynamodb:*", "Deny")
    for resource in (TABLE_ARN, STREAM_ARN):
        d = evaluate(
            ROOT,
            "dynamodb:DeleteResourcePolicy",
            resource,
            identity_policies=[],
            resource_policy=lockout,
        )
        assert d.allowed, d.detail
        # Only DeleteResourcePolicy: every other action stays denied to the root too.
        for action in (
            "dynamodb:GetItem",
            "dynamodb:PutResourcePolicy",
            "dynamodb:GetResourcePolicy",
        ):
            d = evaluate(ROOT, action, resource, identity_policies=[], resource_policy=lockout)
            assert d.effect == "explicit_deny", action
    # Another account's root, or an administrator, is not exempt.
    everyone = doc(stmt("Deny", "dynamodb:*", "*", principal="*"))
    assert not evaluate(
        OTHER_ROOT,
        "dynamodb:DeleteResourcePolicy",
        TABLE_ARN,
        identity_policies=[],
        resource_policy=everyone,
    ).allowed
    assert not evaluate(
        ALICE,
        "dynamodb:DeleteResourcePolicy",
        TABLE_ARN,
        identity_policies=[ANY_DDB],
        resource_policy=everyone,
    ).allowed
    # An SCP still binds the root: the exemption is from the resource policy only.
    scp = doc(stmt("Deny", "dynamodb:DeleteResourcePolicy"), stmt(action="*"))
    assert not evaluate(
        ROOT,
        "dynamodb:DeleteResourcePolicy",
        TABLE_ARN,
        identity_policies=[],
        resource_policy=lockout,
        scps=[scp],
    ).allowed


def test_organization_layers_apply_to_table_policy_reads() -> None:
    row("ddb-rbp-same-account")
    rbp = _table_policy(ALICE)
    rcp = doc(stmt("Deny", "dynamodb:GetItem", "*", principal="*"), stmt(action="*", principal="*"))
    assert not evaluate(
        ALICE, "dynamodb:GetItem", TABLE_ARN, identity_policies=[], resource_policy=rbp, rcps=[rcp]
    ).allowed
    scp = doc(stmt("Deny", "dynamodb:GetItem"), stmt(action="*"))
    assert not evaluate(
        ALICE, "dynamodb:GetItem", TABLE_ARN, identity_policies=[], resource_policy=rbp, scps=[scp]
    ).allowed


def test_policy_holder_names_the_table_for_its_indexes_and_the_stream_for_itself() -> None:
    row("ddb-rbp-holders")
    assert policy_holder(TABLE_ARN) == TABLE_ARN
    assert policy_holder(INDEX_ARN) == TABLE_ARN
    assert policy_holder(STREAM_ARN) == STREAM_ARN
    for arn in (
        BACKUP_ARN,
        f"{TABLE_ARN}/index/",
        f"{TABLE_ARN}/index/a/b",
        f"arn:aws:dynamodb:us-east-1:{ACCT}:table/",
        f"arn:aws:dynamodb:us-east-1:{ACCT}:table",
        f"arn:aws:kms:us-east-1:{ACCT}:key/table/x",
        "table/orders",
        "",
    ):
        assert policy_holder(arn) is None, arn
    # An index or table name holding the word "index" is still the table's.
    odd = f"arn:aws:dynamodb:us-east-1:{ACCT}:table/index/index/index"
    assert policy_holder(odd) == f"arn:aws:dynamodb:us-east-1:{ACCT}:table/index"
    # Longer than any ARN AWS issues (index names stop at 255): it names nothing, read linearly.
    assert policy_holder(TABLE_ARN + "/index/" + "x" * 1_000_000) is None


def test_the_read_paths_table() -> None:
    row("ddb-read-paths")
    by_op: dict[str, list] = {}
    for path in READ_PATHS:
        by_op.setdefault(path.operation, []).append(path)
        assert path.resource in (TABLE, INDEX, STREAM, BACKUP)
        assert all(a.startswith("dynamodb:") for a in path.actions)
        # Whatever hands out item data needs the table's key.
        assert path.decrypts or not path.returns_items
    expected = {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
        "DescribeStream",
        "GetShardIterator",
        "GetRecords",
        "ExportTableToPointInTime",
        "RestoreTableToPointInTime",
        "RestoreTableFromBackup",
    }
    assert set(by_op) == expected
    assert {p.resource for p in by_op["Query"]} == {TABLE, INDEX}
    assert {p.resource for p in by_op["Scan"]} == {TABLE, INDEX}
    assert by_op["TransactGetItems"][0].actions == ("dynamodb:GetItem",)
    for op in ("ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"):
        assert all(
            p.actions == ("dynamodb:PartiQLSelect",) and not p.cross_account for p in by_op[op]
        )
    assert by_op["GetRecords"][0].resource == STREAM and by_op["GetRecords"][0].decrypts
    assert by_op["RestoreTableFromBackup"][0].resource == BACKUP
    for op in ("RestoreTableToPointInTime", "RestoreTableFromBackup"):
        assert "dynamodb:PutItem" in by_op[op][0].target_actions
    # Each path's cross-account flag is what the evaluator does across accounts.
    for path in READ_PATHS:
        if path.resource == BACKUP:
            continue
        resource = {TABLE: TABLE_ARN, INDEX: INDEX_ARN, STREAM: STREAM_ARN}[path.resource]
        for action in path.actions:
            d = evaluate(
                EVE,
                action,
                resource,
                identity_policies=[ANY_DDB],
                resource_policy=_table_policy(EVE),
            )
            assert d.allowed is path.cross_account, (path, d.detail)


def test_boundaries_and_sessions_cap_a_table_policy_as_they_cap_a_key_policy() -> None:
    row("ddb-rbp-same-account")
    no_reads = doc(stmt(action="dynamodb:DescribeTable"))
    # A policy naming the user itself is not capped by the user's boundary.
    d = evaluate(
        ALICE,
        "dynamodb:GetItem",
        TABLE_ARN,
        identity_policies=[],
        resource_policy=_table_policy(ALICE),
        permissions_boundary=no_reads,
    )
    assert d.allowed, d.detail
    # One naming the session's role is capped by the role's boundary and the session policy.
    role_rbp = _table_policy(ROLE)
    assert evaluate(
        SESSION, "dynamodb:GetItem", TABLE_ARN, identity_policies=[], resource_policy=role_rbp
    ).allowed
    assert not evaluate(
        SESSION,
        "dynamodb:GetItem",
        TABLE_ARN,
        identity_policies=[],
        resource_policy=role_rbp,
        permissions_boundary=no_reads,
    ).allowed
    assert not evaluate(
        SESSION,
        "dynamodb:GetItem",
        TABLE_ARN,
        identity_policies=[],
        resource_policy=role_rbp,
        session_policies=[no_reads],
    ).allowed
