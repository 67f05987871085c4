"""Properties: explicit deny wins, other principals' statements are inert, bad input is typed."""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kmsguard.access import PolicyDocumentError, decide, evaluate, parse_policy
from tests.access.docs import (
    ACCT,
    ALICE,
    BOB,
    DDB,
    EVE,
    KEY,
    OTHER_ROOT,
    ROLE,
    ROOT,
    SESSION,
    TABLE,
)
from tests.budgets import examples

SETTINGS = settings(max_examples=examples(1.5))

PRINCIPALS = [ALICE, BOB, SESSION, EVE, ROOT]
ACTIONS = ["kms:Decrypt", "kms:Encrypt", "kms:DescribeKey", "kms:CreateGrant", "dynamodb:GetItem"]
RESOURCES = [KEY, TABLE]
ACTION_PATTERNS = ["*", "kms:*", "kms:Decrypt", "kms:*crypt", "KMS:describe?ey", "dynamodb:*"]
RESOURCE_PATTERNS = ["*", KEY, TABLE, "arn:aws:kms:*", f"arn:aws:dynamodb:*:{ACCT}:table/*"]
POLICY_PRINCIPALS: list[Any] = [
    "*",
    {"AWS": "*"},
    {"AWS": ROOT},
    {"AWS": ACCT},
    {"AWS": OTHER_ROOT},
    {"AWS": [ALICE, BOB]},
    {"AWS": ROLE},
    {"AWS": EVE},
    {"Service": "dynamodb.amazonaws.com"},
]
CONDITIONS: list[Any] = [
    {"StringEquals": {"kms:ViaService": DDB}},
    {"StringNotEquals": {"kms:CallerAccount": ACCT}},
    {"Bool": {"kms:GrantIsForAWSResource": "true"}},
    {"StringEqualsIfExists": {"kms:ViaService": DDB}},
    {"Null": {"kms:ViaService": "false"}},
    {"ForAnyValue:StringLike": {"aws:TagKeys": "team*"}},
]
CONTEXTS: list[dict[str, Any]] = [
    {},
    {"kms:ViaService": DDB},
    {"kms:GrantIsForAWSResource": True},
    {"aws:TagKeys": ["team-a", "env"]},
    {"kms:ViaService": "s3.us-east-1.amazonaws.com", "kms:CallerAccount": "999999999999"},
]


@st.composite
def statements(draw: st.DrawFn, resource_policy: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Allow", "Deny"]))}
    key = "NotAction" if draw(st.integers(0, 5)) == 0 else "Action"
    out[key] = draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=2))
    out["Resource"] = draw(st.sampled_from(RESOURCE_PATTERNS))
    if resource_policy:
        out["Principal"] = draw(st.sampled_from(POLICY_PRINCIPALS))
    if draw(st.booleans()):
        out["Condition"] = draw(st.sampled_from(CONDITIONS))
    return out


def policy_docs(resource_policy: bool) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda ss: {"Version": "2012-10-17", "Statement": ss},
        st.lists(statements(resource_policy), max_size=4),
    )


scenarios = st.fixed_dictionaries(
    {
        "principal": st.sampled_from(PRINCIPALS),
        "action": st.sampled_from(ACTIONS),
        "resource": st.sampled_from(RESOURCES),
        "context": st.sampled_from(CONTEXTS),
        "identity_policies": st.lists(policy_docs(False), max_size=3),
        "resource_policy": st.one_of(st.none(), policy_docs(True)),
    }
)


@SETTINGS
@given(scenarios, st.data())
def test_matching_explicit_deny_always_wins(scenario: dict[str, Any], data: st.DataObject) -> None:
    s = copy.deepcopy(scenario)
    deny: dict[str, Any] = {
        "Sid": "TheDeny",
        "Effect": "Deny",
        "Action": s["action"],
        "Resource": s["resource"],
    }
    if data.draw(st.booleans(), label="in resource policy"):
        deny["Principal"] = {"AWS": s["principal"]}
        if s["resource_policy"] is None:
            s["resource_policy"] = {"Version": "2012-10-17", "Statement": []}
        stmts = s["resource_policy"]["Statement"]
        label = "resource"
    else:
        if not s["identity_policies"]:
            s["identity_policies"].append({"Version": "2012-10-17", "Statement": []})
        i = data.draw(st.integers(0, len(s["identity_policies"]) - 1), label="identity index")
        stmts = s["identity_policies"][i]["Statement"]
        label = f"identity[{i}]"
    pos = data.draw(st.integers(0, len(stmts)), label="position")
    stmts.insert(pos, deny)
    d = decide(s)
    assert d.effect == "explicit_deny"
    assert (label, "TheDeny", pos) in {(r.policy, r.sid, r.index) for r in d.statements}


@SETTINGS
@given(
    scenarios,
    statements(True),
    st.sampled_from(
        [
            f"arn:aws:iam::{ACCT}:user/zed",
            f"arn:aws:iam::{ACCT}:role/Other",
            "arn:aws:iam::444455556666:user/mallory",
        ]
    ),
)
def test_statements_for_other_principals_change_nothing(
    scenario: dict[str, Any], extra: dict[str, Any], other: str
) -> None:
    before = decide(scenario)
    s = copy.deepcopy(scenario)
    extra = {**extra, "Principal": {"AWS": other}}
    if s["resource_policy"] is None:
        s["resource_policy"] = {"Version": "2012-10-17", "Statement": []}
    s["resource_policy"]["Statement"].append(extra)
    after = decide(s)
    assert after.to_json() == before.to_json()
    assert after.detail == before.detail


@SETTINGS
@given(scenarios)
def test_parsed_policies_decide_like_raw_documents(scenario: dict[str, Any]) -> None:
    raw = decide(scenario)
    rp = scenario["resource_policy"]
    parsed = evaluate(
        scenario["principal"],
        scenario["action"],
        scenario["resource"],
        identity_policies=[parse_policy(d, kind="identity") for d in scenario["identity_policies"]],
        resource_policy=None if rp is None else parse_policy(rp, kind="resource"),
        context=scenario["context"],
    )
    assert parsed == raw


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
VOCAB = [
    "Version",
    "Statement",
    "Id",
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
    "AWS",
    "Service",
    "StringEquals",
    "StringLikeIfExists",
    "ForAllValues:StringEquals",
    "Null",
    "Bool",
    "NumericLessThan",
    "DateGreaterThan",
    "IpAddress",
    "ArnLike",
    "kms:ViaService",
]
LEAVES = [
    "2012-10-17",
    "2008-10-17",
    "Allow",
    "Deny",
    "*",
    "kms:Decrypt",
    "kms:*",
    KEY,
    ROOT,
    ACCT,
    ALICE,
    "true",
    "10.0.0.0/8",
    "2026-01-01T00:00:00Z",
    "12",
    "${aws:username}",
    "",
    "x",
]
doc_like = st.recursive(
    st.sampled_from(LEAVES) | st.none() | st.booleans() | st.integers(-2, 2),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(VOCAB), children, max_size=4)
    ),
    max_leaves=20,
)


def _assert_typed(doc: Any) -> None:
    for kind in ("identity", "resource"):
        try:
            policy = parse_policy(doc, kind=kind)  # type: ignore[arg-type]
        except PolicyDocumentError as exc:
            assert isinstance(exc.path, str) and exc.message
            continue
        # A document that parses must evaluate without error.
        other: Any = {"Version": "2012-10-17", "Statement": []}
        evaluate(
            ALICE,
            "kms:Decrypt",
            KEY,
            identity_policies=[policy] if kind == "identity" else [],
            resource_policy=policy if kind == "resource" else other,
            context={"kms:ViaService": DDB, "aws:TagKeys": ["a"]},
        )


@settings(max_examples=examples(4))
@given(doc_like)
def test_vocabulary_documents_raise_only_the_typed_error(doc: Any) -> None:
    _assert_typed(doc)


@settings(max_examples=examples(2))
@given(json_values)
def test_random_json_raises_only_the_typed_error(doc: Any) -> None:
    _assert_typed(doc)
    _assert_typed(json.dumps(doc))


@settings(max_examples=examples(2))
@given(st.text(max_size=40))
def test_random_text_raises_only_the_typed_error(text: str) -> None:
    _assert_typed(text)


@settings(max_examples=examples(2))
@given(
    st.dictionaries(
        st.sampled_from(
            ["principal", "action", "resource", "context", "identity_policies", "resource_policy"]
        ),
        doc_like,
    )
)
def test_random_scenarios_raise_only_the_typed_error(scenario: dict[str, Any]) -> None:
    with contextlib.suppress(PolicyDocumentError):
        decide(scenario)


@SETTINGS
@given(
    scenarios,
    st.integers(0, 3),
    st.sampled_from(["Condition", "Effect", "Action", "Resource"]),
    doc_like,
)
def test_mutated_documents_raise_only_the_typed_error(
    scenario: dict[str, Any], which: int, field: str, value: Any
) -> None:
    s = copy.deepcopy(scenario)
    docs = [*s["identity_policies"], *([s["resource_policy"]] if s["resource_policy"] else [])]
    stmts = [stmt for d in docs for stmt in d["Statement"]]
    if stmts:
        stmts[which % len(stmts)][field] = value
    with contextlib.suppress(PolicyDocumentError):
        decide(s)
