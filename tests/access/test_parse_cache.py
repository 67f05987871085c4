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
