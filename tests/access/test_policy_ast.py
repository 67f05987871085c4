"""The policy AST: each condition's operator parsed and its key as written."""

from __future__ import annotations

import pytest

from kmsguard.access import PolicyDocumentError, parse_policy
from kmsguard.access.conditions import OPERATORS, parse_operator

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _clauses(condition: dict[str, object]) -> list[object]:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY, "Condition": condition}
        ],
    }
    return list(parse_policy(doc, kind="identity").statements[0].clauses)


def test_each_clause_carries_its_operator_parsed_and_its_key_as_written() -> None:
    (cl,) = _clauses({"ForAnyValue:StringNotLikeIfExists": {"kms:ViaService": "dynamodb.*"}})
    op = cl.operator  # type: ignore[attr-defined]
    assert (op.text, op.qualifier, op.base, op.if_exists, op.negated) == (
        "ForAnyValue:StringNotLikeIfExists",
        "ForAnyValue",
        "StringNotLike",
        True,
        True,
    )
    assert op.positive == "StringLike"
    assert (cl.key, cl.written_key, cl.values) == (  # type: ignore[attr-defined]
        "kms:viaservice",
        "kms:ViaService",
        ("dynamodb.*",),
    )


@pytest.mark.parametrize(
    ("text", "base", "positive", "negated"),
    [
        ("NotIpAddress", "NotIpAddress", "IpAddress", True),
        ("NumericNotEqualsIfExists", "NumericNotEquals", "NumericEquals", True),
        ("ForAllValues:ArnNotLike", "ArnNotLike", "ArnLike", True),
        ("DateGreaterThan", "DateGreaterThan", "DateGreaterThan", False),
        ("Null", "Null", "Null", False),
    ],
)
def test_negation_and_the_positive_test_are_read_once(
    text: str, base: str, positive: str, negated: bool
) -> None:
    op = OPERATORS[text]
    assert (op.base, op.positive, op.negated) == (base, positive, negated)


@pytest.mark.parametrize(
    "text",
    ["ForAnyValue:Null", "NullIfExists", "StringEqualsIfExistsIfExists", "forallvalues:Bool", ""],
)
def test_an_operator_iam_does_not_know_is_refused_with_the_allowed_list(text: str) -> None:
    with pytest.raises(PolicyDocumentError) as err:
        parse_operator(text, "Statement.Condition")
    assert err.value.path == "Statement.Condition"
    assert "allowed: StringEquals" in err.value.message
    with pytest.raises(PolicyDocumentError):
        _clauses({text: {"aws:SecureTransport": "true"}})
