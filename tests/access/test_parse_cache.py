"""The parsed-document cache never answers for a document other than the one given."""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest

from kmsguard.access import PolicyDocumentError, Statement, clear_caches, decide, parse_policy

from .docs import ACCT, ALICE, KEY, doc, scenario, stmt

VIA = {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}


def test_a_mapping_changed_in_place_is_parsed_again() -> None:
    policy = doc(stmt(action="kms:Decrypt"))
    s = scenario(ALICE, "kms:Decrypt", f"arn:aws:dynamodb:us-east-1:{ACCT}:table/t")
    s["identity_policies"] = [policy]
    assert decide(s).allowed
    policy["Statement"][0]["Effect"] = "Deny"
    assert decide(s).effect == "explicit_deny"
    policy["Statement"][0]["Effect"] = "Allow"
    policy["Statement"][0]["Action"] = ["kms:Encrypt"]
    assert not decide(s).allowed
    policy["Statement"][0]["Action"].append("kms:Decrypt")  # nested list changed in place
    assert decide(s).allowed


def test_a_condition_value_changed_to_an_equal_value_of_another_type() -> None:
    # 1 == True == 1.0 in Python, but a string condition reads them as "1", "true", "1.0".
    policy = doc(stmt(action="kms:Decrypt", condition={"StringEquals": {"aws:username": 1}}))
    s = scenario(ALICE, "kms:Decrypt", KEY, context={"aws:username": "true"})
    s["identity_policies"] = [policy]
    s["resource_policy"] = doc(stmt(principal={"AWS": f"arn:aws:iam::{ACCT}:root"}))
    assert not decide(s).allowed
    policy["Statement"][0]["Condition"]["StringEquals"]["aws:username"] = True
    assert decide(s).allowed
    policy["Statement"][0]["Condition"]["StringEquals"]["aws:username"] = 1.0
    s["context"] = {"aws:username": "1.0"}
    assert decide(s).allowed
    policy["Statement"][0]["Condition"]["StringEquals"]["aws:username"] = 1
    assert not decide(s).allowed


def test_documents_that_only_share_a_json_text_are_parsed_apart() -> None:
    as_list = doc(stmt(action=["kms:Decrypt"]))
    as_tuple: dict[str, Any] = doc(stmt(action=("kms:Decrypt",)))
    assert json.dumps(as_list) == json.dumps(as_tuple)
    assert parse_policy(as_list, kind="identity").statements
    with pytest.raises(PolicyDocumentError, match="Action"):
        parse_policy(as_tuple, kind="identity")


def test_a_fresh_copy_of_a_cached_document_gives_the_same_policy() -> None:
    original = doc(stmt(action="kms:Decrypt", condition={"StringLike": VIA}))
    first = parse_policy(original, kind="identity")
    again = parse_policy(json.loads(json.dumps(original)), kind="identity")
    text = parse_policy(json.dumps(original), kind="identity")
    assert first is again
    assert text == first
    assert first.document == original
    # The cached copy is private: changing the caller's mapping does not change the policy.
    original["Statement"][0]["Action"] = "kms:Encrypt"
    assert first.document["Statement"][0]["Action"] == "kms:Decrypt"
    assert parse_policy(original, kind="identity") is not first


def test_the_same_mapping_as_another_kind_is_parsed_as_that_kind() -> None:
    d = doc(stmt(action="kms:Decrypt"))
    parse_policy(d, kind="identity")
    with pytest.raises(PolicyDocumentError, match="Principal"):
        parse_policy(d, kind="resource")


def test_a_document_mutated_after_parsing_keeps_its_source() -> None:
    d = doc(stmt(action="kms:Decrypt", condition={"NumericLessThan": {"kms:X": 5}}))
    policy = parse_policy(d, kind="identity")
    d["Statement"][0]["Condition"]["NumericLessThan"]["kms:X"] = 7
    assert '"kms:X":5' in policy.source


def test_a_forgotten_policy_leaves_no_statement_behind() -> None:
    sid = "ForgottenAfterClearCaches"
    s = scenario(ALICE, "kms:Decrypt", f"arn:aws:dynamodb:us-east-1:{ACCT}:table/t")
    s["identity_policies"] = [doc(stmt(action="kms:Decrypt", sid=sid))]
    assert decide(s).statements[0].sid == sid
    del s
    clear_caches()
    gc.collect()
    alive = [o for o in gc.get_objects() if isinstance(o, Statement) and o.sid == sid]
    assert not alive, "a process-wide table still holds the statements of a forgotten policy"


BAD_CONDITIONS: list[tuple[dict[str, Any], str]] = [
    ({"NumericLessThan": {"kms:RecipientAttestation:ImageSha384": "many"}}, "not a number"),
    ({"DateGreaterThan": {"aws:CurrentTime": "yesterday"}}, "not a date"),
    ({"Bool": {"aws:SecureTransport": "yes"}}, "'true' or 'false'"),
    ({"Null": {"aws:SourceVpce": "maybe"}}, "'true' or 'false'"),
    ({"IpAddress": {"aws:SourceIp": "10.0.0.300/8"}}, "IP address"),
    ({"StringEquals": {"aws:username": None}}, "string, number or boolean"),
    ({"StringEquals": {"aws:username": []}}, "must not be an empty list"),
    ({"StringEqualsTypo": {"aws:username": "alice"}}, "unknown condition operator"),
    ({"NullIfExists": {"aws:username": "true"}}, "unknown condition operator"),
    ({"StringEquals": {}}, "non-empty object"),
    ({"StringEquals": {" ": "x"}}, "non-empty strings"),
    ({"StringEquals": {"aws:username": {"a": 1}}}, "string, number or boolean"),
]


@pytest.mark.parametrize(("condition", "message"), BAD_CONDITIONS)
def test_a_bad_condition_is_refused_when_parsed_even_if_no_request_reaches_it(
    condition: dict[str, Any], message: str
) -> None:
    # The statement is for an action nothing asks about: its condition is never evaluated, and
    # the policy must still be refused as bad input by parse_policy itself.
    clear_caches()
    bad = doc(stmt(action="s3:GetObject", resource="*", condition=condition))
    for given in (bad, json.dumps(bad)):
        with pytest.raises(PolicyDocumentError, match=message):
            parse_policy(given, kind="identity")


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": "arn:aws:iam::*:root"},
        {"AWS": "alice"},
        {"Robot": "x"},
        {"AWS": []},
        {"AWS": [""]},
        {},
        "everyone",
    ],
)
def test_a_bad_principal_is_refused_when_parsed(principal: Any) -> None:
    clear_caches()
    with pytest.raises(PolicyDocumentError):
        parse_policy(doc(stmt(action="s3:GetObject", principal=principal)), kind="resource")


def test_a_mapping_changed_after_parsing_leaves_the_policy_as_parsed() -> None:
    # Principals, resources and conditions may be compiled when first needed; they must come
    # from the document as it was parsed, not as the caller's mapping is now.
    clear_caches()
    given = doc(
        stmt(
            principal={"AWS": [ALICE]},
            resource=KEY,
            condition={"StringEquals": {"kms:ViaService": VIA["kms:ViaService"]}},
        )
    )
    policy = parse_policy(given, kind="resource")
    body = given["Statement"][0]
    body["Principal"]["AWS"][0] = f"arn:aws:iam::{ACCT}:user/mallory"
    body["Resource"] = "*"
    body["Condition"]["StringEquals"]["kms:ViaService"] = "s3.us-east-1.amazonaws.com"
    st = policy.statements[0]
    assert st.principal is not None and st.principal.arns == frozenset({ALICE})
    assert st.resource_patterns == (KEY,)
    assert [c.values for c in st.clauses] == [(VIA["kms:ViaService"],)]
    s = scenario(ALICE, "kms:Decrypt", KEY, context=VIA)
    s["resource_policy"] = policy
    assert decide(s).allowed


def test_a_mapping_its_json_copy_differs_from_is_compiled_while_parsed() -> None:
    # NaN differs from itself, so the JSON copy is not the document: it is read in place, and
    # everything is compiled before parse_policy returns.
    clear_caches()
    arns = [ALICE]
    nan = {"NumericNotEquals": {"kms:RecipientAttestation:PCR0": float("nan")}}
    given = doc(stmt(principal={"AWS": arns}, condition=nan))
    policy = parse_policy(given, kind="resource")
    assert type(policy.statements[0]) is Statement
    arns[0] = f"arn:aws:iam::{ACCT}:user/mallory"
    st = policy.statements[0]
    assert st.principal is not None and st.principal.arns == frozenset({ALICE})


def test_statements_stay_immutable_before_and_after_first_use() -> None:
    import dataclasses

    clear_caches()
    st = parse_policy(doc(stmt(principal="*")), kind="resource").statements[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        st.effect = "Deny"  # type: ignore[misc]
    assert st.principal is not None and st.principal.everyone
    with pytest.raises(dataclasses.FrozenInstanceError):
        st.principal = None  # type: ignore[misc]
    with pytest.raises(AttributeError):
        _ = st.no_such_field  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("statement", "where"),
    [
        ({"Effect": "allow", "Action": "kms:*", "Resource": "*"}, "Statement[0].Effect"),
        ({"Effect": "Allow", "Action": "", "Resource": "*"}, "Statement[0].Action"),
        ({"Effect": "Allow", "Action": [], "Resource": "*"}, "Statement[0].Action"),
        ({"Effect": "Allow", "Action": ["kms:Decrypt", 1], "Resource": "*"}, "Action[1]"),
        ({"Effect": "Allow", "Action": "kms", "Resource": "*"}, "Statement[0].Action"),
        ({"Effect": "Allow", "Action": "kms:*", "NotAction": "s3:*", "Resource": "*"}, "both"),
        ({"Effect": "Allow", "Action": "kms:*", "Resource": ["*", "key/1"]}, "Resource[1]"),
        ({"Effect": "Allow", "Action": "kms:*"}, "needs Resource or NotResource"),
        ({"Effect": "Allow", "Action": "kms:*", "Resource": "*", "Sid": 3}, "Sid"),
        ({"Effect": "Allow", "Action": "kms:*", "Resource": "*", "Extra": 1}, "Extra"),
        (
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*", "Principal": "*"},
            "must not have Principal",
        ),
    ],
)
def test_every_statement_error_names_its_place(statement: dict[str, Any], where: str) -> None:
    clear_caches()
    fine = {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}
    with pytest.raises(PolicyDocumentError) as err:
        parse_policy({"Statement": [statement, fine]}, kind="identity")
    assert where in str(err.value)


@pytest.mark.parametrize(
    "arn",
    ["arn:aws:iam:111122223333:user/alice", "arn:aws:iam::111122223333:user/*", "111122223333x"],
)
def test_a_principal_arn_of_the_wrong_shape_names_its_place(arn: str) -> None:
    clear_caches()
    with pytest.raises(PolicyDocumentError, match=r"Statement\[0\]\.Principal\.AWS\[1\]"):
        parse_policy(doc(stmt(principal={"AWS": [ALICE, arn]})), kind="resource")


@pytest.mark.parametrize("value", [1, True, 1.0, "1", "true", "1.0"])
def test_fresh_documents_differing_only_in_a_values_type_are_parsed_apart(value: Any) -> None:
    # Each call builds a new mapping, so only the document cache can answer; 1 == True == 1.0
    # in Python, but a string condition reads them as "1", "true" and "1.0".
    def policy(v: Any) -> dict[str, Any]:
        return doc(stmt(action="kms:Decrypt", condition={"StringEquals": {"aws:username": v}}))

    key_policy = doc(stmt(principal={"AWS": f"arn:aws:iam::{ACCT}:root"}))
    for first in (1, True, 1.0):
        parse_policy(policy(first), kind="identity")
        for heard in ("1", "true", "1.0"):
            s = scenario(ALICE, "kms:Decrypt", KEY, context={"aws:username": heard})
            s["identity_policies"] = [policy(value)]
            s["resource_policy"] = key_policy
            expected = heard == (value if isinstance(value, str) else json.dumps(value))
            assert decide(s).allowed == expected, (first, value, heard)


def test_a_string_subclass_is_read_in_place_and_kept_as_parsed() -> None:
    class Name(str):
        pass

    clear_caches()
    given = doc(stmt(action=[Name("kms:Decrypt")], principal={"AWS": [Name(ALICE)]}))
    policy = parse_policy(given, kind="resource")
    given["Statement"][0]["Principal"]["AWS"][0] = f"arn:aws:iam::{ACCT}:user/mallory"
    st = policy.statements[0]
    assert st.principal is not None and st.principal.arns == frozenset({ALICE})
    assert json.loads(policy.source)["Statement"][0]["Principal"] == {"AWS": [ALICE]}


def test_a_mapping_that_contains_itself_is_refused() -> None:
    clear_caches()
    given: dict[str, Any] = doc(stmt(action="kms:Decrypt"))
    given["Statement"][0]["Condition"] = {"StringEquals": {"aws:username": "alice"}}
    given["Id"] = given
    with pytest.raises(PolicyDocumentError, match="Id"):
        parse_policy(given, kind="identity")


@pytest.mark.parametrize(
    ("operator", "accepted"),
    [
        ("StringEquals", True),
        ("ForAnyValue:StringLikeIfExists", True),
        ("ForAllValues:NumericLessThanEquals", True),
        ("DateGreaterThanIfExists", True),
        ("ArnNotLike", True),
        ("Null", True),
        ("NullIfExists", False),
        ("ForAnyValue:Null", False),
        ("ForAnyValue:ForAllValues:StringEquals", False),
        ("StringEqualsIfExistsIfExists", False),
        ("IfExists", False),
        ("ForAnyValue:", False),
        ("stringequals", False),
        ("StringEquals ", False),
        ("IfExistsStringEquals", False),
    ],
)
def test_operators_are_accepted_exactly_as_iam_writes_them(operator: str, accepted: bool) -> None:
    clear_caches()
    value = "true" if operator.startswith("Null") else "1"
    policy = doc(stmt(action="s3:GetObject", condition={operator: {"aws:username": value}}))
    if accepted:
        parse_policy(policy, kind="identity")
    else:
        with pytest.raises(PolicyDocumentError, match="unknown condition operator"):
            parse_policy(policy, kind="identity")


def test_a_single_principal_entry_is_named_without_an_index() -> None:
    clear_caches()
    with pytest.raises(PolicyDocumentError) as err:
        parse_policy(doc(stmt(principal={"AWS": "arn:aws:iam::*:root"})), kind="resource")
    assert err.value.path == "Statement[0].Principal.AWS"


def test_a_parsed_policy_survives_pickling_and_copying_before_and_after_use() -> None:
    import copy
    import pickle

    clear_caches()
    policy = parse_policy(
        doc(stmt(action="kms:Decrypt"), stmt("Deny", action="s3:*")), kind="identity"
    )
    s = scenario(ALICE, "kms:Decrypt", KEY)
    s["identity_policies"] = [policy]
    s["resource_policy"] = doc(stmt(principal={"AWS": f"arn:aws:iam::{ACCT}:root"}))
    for again in (pickle.loads(pickle.dumps(policy)), copy.deepcopy(policy)):
        assert again == policy and type(again.statements[0]) is Statement
        assert [st.action_paths for st in again.statements] == [
            st.action_paths for st in policy.statements
        ]
        s["identity_policies"] = [again]
        assert decide(s).allowed
