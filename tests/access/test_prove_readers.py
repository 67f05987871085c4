"""The `readers` question: who can read a table's items, each witness re-checked by `decide`."""

from __future__ import annotations

from typing import Any

import pytest

from kmsguard.access import decide
from kmsguard.access.prove import ReadersVerdict, ReaderWitness, readers
from tests.access.docs import row

A = "111122223333"
B = "444455556666"
ORG = "o-a1b2c3d4e5"
REGION = "us-east-1"
TABLE = f"arn:aws:dynamodb:{REGION}:{A}:table/Orders"
STREAM = f"{TABLE}/stream/2026-01-01T00:00:00.000"
KEY = f"arn:aws:kms:{REGION}:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROOT_A = f"arn:aws:iam::{A}:root"
ALICE = f"arn:aws:iam::{A}:user/alice"
VIA = {"StringEquals": {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"}}


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def stmt(
    principal: Any, action: Any, resource: Any = "*", effect: str = "Allow", **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": effect, "Action": action, "Resource": resource}
    if principal is not None:
        out["Principal"] = principal
    out.update(extra)
    return out


# The stack's shape: the account root administers the key, alice reads through DynamoDB.
KEY_POLICY = doc(
    stmt({"AWS": ROOT_A}, "kms:*", Sid="Root"),
    stmt({"AWS": ALICE}, "kms:Decrypt", Condition=VIA, Sid="Readers"),
)
ALICE_IAM = {ALICE: [doc(stmt(None, ["dynamodb:GetItem", "dynamodb:Query"], TABLE))]}
DECLARED = (ALICE, ROOT_A)


def ask(**kw: Any) -> ReadersVerdict:
    args: dict[str, Any] = {
        "key_policy": KEY_POLICY,
        "key_arn": KEY,
        "identities": ALICE_IAM,
        "closed_accounts": [A],
        "declared": DECLARED,
        "limit": 5,
    }
    args.update(kw)
    return readers(TABLE, **args)


def reconfirmed(w: ReaderWitness) -> bool:
    """Both requests of a witness, decided again from its JSON form."""
    data = w.to_json()
    ok = decide(data["read"]).allowed
    if data["decrypt"] is not None:
        ok = ok and decide(data["decrypt"]).allowed
    return ok


def outsiders(v: ReadersVerdict) -> set[str]:
    assert all(reconfirmed(w) for w in v.witnesses)
    return {w.principal for w in v.witnesses}


# -- the stack as declared -----------------------------------------------------------------------


def test_the_declared_stack_has_exactly_its_readers() -> None:
    v = ask()
    assert v.status == "pass", v.reason
    assert v.missing == ()


def test_an_undeclared_reader_of_the_stack_is_the_witness_with_both_requests() -> None:
    row("readers-decrypt-request")
    v = ask(declared=(ROOT_A,))
    assert v.status == "fail"
    w = v.witness
    assert w is not None and w.principal == ALICE
    assert w.decrypt is not None and w.decrypt["action"] == "kms:Decrypt"
    assert w.decrypt["context"]["kms:ViaService"] == f"dynamodb.{REGION}.amazonaws.com"
    assert w.decrypt["context"]["kms:EncryptionContext:aws:dynamodb:tableName"] == "Orders"
    assert {"GetItem", "Query"} <= set(w.operations)
    assert reconfirmed(w)


def test_a_declared_reader_that_cannot_read_is_reported_missing() -> None:
    row("readers-declared")
    bob = f"arn:aws:iam::{A}:user/bob"
    v = ask(declared=(*DECLARED, bob))
    assert v.status == "pass"
    assert v.missing == (bob,)


# -- attacks on the table's policy ---------------------------------------------------------------


PUBLIC_TABLE = doc(stmt("*", "dynamodb:GetItem", TABLE))
KEY_FOR_ANYONE_VIA_DYNAMODB = doc(
    stmt({"AWS": ROOT_A}, "kms:*"), stmt("*", "kms:Decrypt", Condition=VIA)
)


def test_a_public_table_policy_with_a_key_open_through_dynamodb_lets_anyone_read() -> None:
    v = ask(table_policy=PUBLIC_TABLE, key_policy=KEY_FOR_ANYONE_VIA_DYNAMODB)
    assert v.status == "fail"
    accounts = {p.split(":")[4] for p in outsiders(v) if p.startswith("arn:")}
    assert accounts - {A}, "a principal of another account reads"


def test_a_public_table_policy_is_contained_by_a_key_that_names_the_readers() -> None:
    v = ask(table_policy=PUBLIC_TABLE)
    assert v.status == "pass", v.reason


def test_with_an_aws_owned_key_the_table_policy_alone_decides() -> None:
    v = ask(table_policy=PUBLIC_TABLE, key_policy=None)
    assert v.status == "fail"
    assert all(w.decrypt is None for w in v.witnesses)
    assert outsiders(v)


CROSS_TABLE = doc(stmt({"AWS": B}, "dynamodb:*", TABLE))
KEY_FOR_B = doc(*KEY_POLICY["Statement"], stmt({"AWS": B}, "kms:Decrypt"))


def test_cross_account_table_policy_with_a_key_that_does_not_allow_is_no_reader() -> None:
    assert ask(table_policy=CROSS_TABLE).status == "pass"


def test_cross_account_table_policy_and_key_lets_the_other_account_read() -> None:
    v = ask(table_policy=CROSS_TABLE, key_policy=KEY_FOR_B)
    assert v.status == "fail"
    found = outsiders(v)
    assert f"arn:aws:iam::{B}:root" in found
    # Its users need their own IAM policies: the witness says so, and the scenario carries it.
    users = [w for w in v.witnesses if ":user/" in w.principal]
    assert users and users[0].identity_assumed
    assert users[0].read["identity_policies"]


def test_trusting_the_other_account_accepts_its_readers() -> None:
    v = ask(table_policy=CROSS_TABLE, key_policy=KEY_FOR_B, trusted_accounts=[B])
    assert v.status == "pass", v.reason


def test_a_key_that_allows_is_stopped_by_a_table_policy_deny() -> None:
    table = doc(
        stmt({"AWS": B}, "dynamodb:*", TABLE),
        stmt(
            "*",
            "dynamodb:*",
            TABLE,
            effect="Deny",
            Condition={"StringEquals": {"aws:PrincipalAccount": B}},
        ),
    )
    assert ask(table_policy=table, key_policy=KEY_FOR_B).status == "pass"


def test_partiql_is_never_served_to_another_account() -> None:
    table = doc(stmt({"AWS": B}, "dynamodb:PartiQLSelect", TABLE))
    assert ask(table_policy=table, key_policy=KEY_FOR_B).status == "pass"


def test_an_index_is_read_through_the_table_policy() -> None:
    table = doc(stmt({"AWS": B}, ["dynamodb:Query"], f"{TABLE}/index/*"))
    v = ask(table_policy=table, key_policy=KEY_FOR_B, indexes=["byDate"])
    assert v.status == "fail"
    w = v.witness
    assert w is not None and w.read["resource"] == f"{TABLE}/index/byDate"
    assert reconfirmed(w)
    # A table without that index offers no such path.
    assert ask(table_policy=table, key_policy=KEY_FOR_B).status == "pass"


def test_a_public_stream_policy_lets_anyone_read_the_stream() -> None:
    stream_policy = doc(stmt("*", ["dynamodb:GetRecords", "dynamodb:GetShardIterator"], STREAM))
    v = ask(stream_arn=STREAM, stream_policy=stream_policy, key_policy=KEY_FOR_ANYONE_VIA_DYNAMODB)
    assert v.status == "fail"
    w = v.witness
    assert w is not None and w.operation == "GetRecords" and w.read["resource"] == STREAM
    assert reconfirmed(w)


def test_principal_org_id_conditions_are_trusted_only_for_that_organization() -> None:
    org = {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    table = doc(stmt("*", "dynamodb:GetItem", TABLE, Condition=org))
    key = doc(stmt({"AWS": ROOT_A}, "kms:*"), stmt("*", "kms:Decrypt", Condition=org))
    assert ask(table_policy=table, key_policy=key, trusted_orgs=[ORG]).status == "pass"
    v = ask(table_policy=table, key_policy=key)
    assert v.status == "fail"
    w = v.witness
    assert w is not None and w.read["context"]["aws:PrincipalOrgID"] == ORG
    assert reconfirmed(w)


# -- the caller's side: SCPs, boundaries, grants, restores ------------------------------------


OPEN_KEY = doc(stmt({"AWS": ROOT_A}, "kms:*"))


def test_an_open_account_reads_through_iam_unless_an_scp_stops_it() -> None:
    row("readers-scope")
    v = ask(key_policy=OPEN_KEY, closed_accounts=[])
    assert v.status == "fail"
    assert any(":role/" in p or ":user/" in p for p in outsiders(v))
    # SCPs do not restrict service-linked roles (AWS): those are the readers left.
    deny_reads = doc(
        stmt(None, "*", "*"),
        stmt(
            None,
            "dynamodb:*",
            "*",
            effect="Deny",
            Condition={"StringNotEquals": {"aws:PrincipalArn": ALICE}},
        ),
    )
    left = ask(key_policy=OPEN_KEY, closed_accounts=[], scps=[deny_reads])
    assert left.status == "fail"
    assert all("AWSServiceRoleFor" in p for p in outsiders(left)), outsiders(left)
    bob = f"arn:aws:iam::{A}:user/bob"
    ids = {**ALICE_IAM, bob: [doc(stmt(None, ["dynamodb:*", "kms:Decrypt"], "*"))]}
    assert outsiders(ask(key_policy=OPEN_KEY, identities=ids)) == {bob}
    assert ask(key_policy=OPEN_KEY, identities=ids, scps=[deny_reads]).status == "pass"


def test_a_permissions_boundary_caps_an_identity_policy() -> None:
    bob = f"arn:aws:iam::{A}:user/bob"
    ids = {**ALICE_IAM, bob: [doc(stmt(None, ["dynamodb:*", "kms:Decrypt"], "*"))]}
    assert ask(key_policy=OPEN_KEY, identities=ids).witness.principal == bob  # type: ignore[union-attr]
    bounded = ask(
        key_policy=OPEN_KEY, identities=ids, boundaries={bob: doc(stmt(None, "s3:*", "*"))}
    )
    assert bounded.status == "pass", bounded.reason


def test_a_grant_opens_the_key_to_another_account_unless_its_constraint_names_another_table() -> (
    None
):
    bob = f"arn:aws:iam::{B}:user/bob"
    table = doc(stmt({"AWS": bob}, "dynamodb:GetItem", TABLE))
    grant = {
        "GrantId": "g-1",
        "GranteePrincipal": bob,
        "Operations": ["Decrypt"],
        "KeyId": KEY,
    }
    v = ask(table_policy=table, grants=[grant])
    assert v.status == "fail"
    assert outsiders(v) == {bob}
    other = {
        **grant,
        "Constraints": {"EncryptionContextEquals": {"aws:dynamodb:tableName": "Other"}},
    }
    assert ask(table_policy=table, grants=[other]).status == "pass"


def test_a_restore_is_a_read_for_whoever_may_restore_and_control_the_target() -> None:
    carol = f"arn:aws:iam::{A}:role/carol"
    restore = [
        "dynamodb:RestoreTableToPointInTime",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:BatchWriteItem",
        "kms:Decrypt",
    ]
    # The restored table's actions, not the source's: GetItem on TABLE itself is not allowed.
    ids = {**ALICE_IAM, carol: [doc(stmt(None, restore, [TABLE, f"{TABLE}-*", KEY]))]}
    ids[carol][0]["Statement"][0]["Resource"] = [f"{TABLE}-*", KEY]
    ids[carol][0]["Statement"].append(stmt(None, "dynamodb:RestoreTableToPointInTime", TABLE))
    v = ask(key_policy=OPEN_KEY, identities=ids)
    assert v.status == "fail"
    w = v.witness
    assert w is not None and w.principal == carol and w.operations == ("RestoreTableToPointInTime",)
    assert reconfirmed(w)


def test_declared_principals_match_whatever_the_case_of_their_names() -> None:
    mixed = f"arn:aws:iam::{A}:user/Alice"
    ids = {mixed: ALICE_IAM[ALICE]}
    key = doc(stmt({"AWS": ROOT_A}, "kms:*"), stmt({"AWS": mixed}, "kms:Decrypt", Condition=VIA))
    assert ask(key_policy=key, identities=ids, declared=(mixed, ROOT_A)).status == "pass"
    v = ask(key_policy=key, identities=ids, declared=(ROOT_A,))
    assert v.witness is not None and v.witness.principal == mixed


# -- never a pass it cannot back ------------------------------------------------------------------


def test_a_solver_timeout_is_unknown_never_a_pass() -> None:
    org = {"StringLike": {"aws:PrincipalOrgID": "o-*x*y*z*"}}
    table = doc(stmt("*", "dynamodb:GetItem", TABLE, Condition=org))
    v = ask(table_policy=table, key_policy=KEY_FOR_ANYONE_VIA_DYNAMODB, timeout_s=0.001)
    assert v.status in ("unknown", "fail")
    assert v.status != "pass"


def test_policy_variables_in_a_resource_are_unknown() -> None:
    bob = f"arn:aws:iam::{A}:user/bob"
    by_name = doc(stmt(None, "dynamodb:GetItem", "arn:aws:dynamodb:*:*:table/${aws:username}"))
    v = ask(identities={**ALICE_IAM, bob: [by_name]})
    assert v.status == "unknown" and "not modelled" in v.reason
    # A declared reader's policy does not matter: without a table policy nobody else reaches.
    v = ask(identities={ALICE: [by_name]})
    assert v.status == "pass" and "no undeclared principal" in v.reason


def test_the_shortcut_needs_the_root_declared_and_no_undeclared_identity_reaching() -> None:
    # Without the solver only when the root is declared and nobody undeclared is reached.
    assert ask().reason.startswith("no undeclared principal")
    assert ask(declared=(ALICE,)).reason == ""  # the root reads: the solver decides
    bob = f"arn:aws:iam::{A}:user/bob"
    elsewhere = {**ALICE_IAM, bob: [doc(stmt(None, "dynamodb:GetItem", f"{TABLE}-other"))]}
    assert ask(identities=elsewhere).reason.startswith("no undeclared principal")
    reads = doc(stmt(None, "dynamodb:Get*", f"{TABLE}*"), stmt(None, "kms:Decrypt", KEY))
    reaching = {**ALICE_IAM, bob: [reads]}
    v = ask(identities=reaching, key_policy=doc(stmt({"AWS": ROOT_A}, "kms:*")))
    assert v.status == "fail" and v.witness is not None and v.witness.principal == bob


def test_a_candidate_the_evaluator_refuses_is_never_reported_and_never_a_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    row("readers-unknown")
    from kmsguard.access.prove import readers_request

    monkeypatch.setattr(
        readers_request,
        "decide",
        lambda _s: decide(
            {
                "principal": ALICE,
                "action": "s3:GetObject",
                "resource": "arn:aws:s3:::b/k",
                "identity_policies": [],
            }
        ),
    )
    v = ask(table_policy=PUBLIC_TABLE, key_policy=KEY_FOR_ANYONE_VIA_DYNAMODB)
    assert v.status == "unknown"
    assert v.witnesses == ()
    assert "refused" in v.reason


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="not a DynamoDB table ARN"):
        readers("arn:aws:s3:::bucket", key_policy=None)
    with pytest.raises(ValueError, match="key_policy"):
        readers(TABLE, key_policy={"Statement": "nope"})
    with pytest.raises(ValueError, match="table's account"):
        readers(TABLE, key_policy=KEY_POLICY, key_arn=KEY.replace(A, B))
    with pytest.raises(ValueError, match="not a stream of"):
        readers(
            TABLE,
            key_policy=None,
            stream_arn="arn:aws:dynamodb:us-east-1:111122223333:table/X/stream/1",
        )


def test_a_name_that_is_not_a_principal_is_refused_with_what_is_allowed() -> None:
    for field, value in (
        ("declared", ("alice",)),
        ("identities", {"alice": []}),
        ("boundaries", {"arn:aws:iam::1:user/x": {}}),
    ):
        with pytest.raises(
            ValueError, match=f"{field}: .* is not a principal; allowed: an IAM ARN"
        ):
            ask(**{field: value})


@pytest.mark.parametrize(
    "name",
    [
        "arn:aws:iam::111122223333:user/a\n",
        "dynamodb.amazonaws.com\n",
        "arn:aws:iam::\u0661\u0661\u0661\u0661\u0662\u0662\u0662\u0662\u0663\u0663\u0663\u0663:user/a",
    ],
)
def test_a_principal_with_a_trailing_newline_or_foreign_digits_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match=r"declared: .* is not a principal; allowed: an IAM ARN"):
        ask(declared=(name,))


def test_confirmed_readers_stay_a_failure_when_the_solver_gives_up_on_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import z3

    real = z3.Solver.check
    calls = {"plain": 0}

    def check(self: z3.Solver, *assumptions: z3.BoolRef) -> z3.CheckSatResult:
        if not assumptions:  # the enumeration's own checks (steering passes assumptions)
            calls["plain"] += 1
            if calls["plain"] > 1:
                return z3.unknown
        return real(self, *assumptions)

    monkeypatch.setattr(z3.Solver, "check", check)
    v = ask(table_policy=PUBLIC_TABLE, key_policy=KEY_FOR_ANYONE_VIA_DYNAMODB)
    assert v.status == "fail" and not v.complete and len(v.witnesses) == 1
    assert "gave up" in v.reason and reconfirmed(v.witnesses[0])
