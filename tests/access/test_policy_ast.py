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


BROKEN = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Open",
            "Effect": "Allow",
            "NotPrincipal": {"AWS": ["arn:aws:iam::*:root", "111122223333"]},
            "Action": ["kms:Decrypt", 7],
            "Resource": "*",
        },
        "not a statement",
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Effect": "Deny",
            "Principal": {"Service": "dynamodb.amazonaws.com"},
            "Action": "kms:Encrypt",
            "Resource": "*",
            "Condition": {"StringEqualz": {"a:b": "c"}, "Bool": {"aws:SecureTransport": "false"}},
        },
    ],
}


def test_a_tolerant_reading_lists_every_problem_the_first_as_a_strict_reading_raises() -> None:
    with pytest.raises(PolicyDocumentError) as strict:
        parse_policy(BROKEN, kind="resource")
    policy = parse_policy(BROKEN, kind="resource", tolerant=True)
    assert [(p.path, p.message) for p in policy.problems] == [
        (strict.value.path, strict.value.message),
        ("Statement[1]", "a statement must be an object, not a string"),
        ("Statement[3].Condition", policy.problems[2].message),
    ]
    assert strict.value.path == "Statement[0].Action[1]"
    assert "unknown condition operator 'StringEqualz'" in policy.problems[2].message


def test_a_malformed_statement_reads_as_far_as_it_goes() -> None:
    policy = parse_policy(BROKEN, kind="resource", tolerant=True)
    first, good, last = policy.statements
    assert [st.index for st in policy.statements] == [0, 2, 3]
    assert (first.sid, first.effect, first.not_principal) == ("Open", "Allow", True)
    assert first.principal_names == ("arn:aws:iam::*:root", "111122223333")
    assert first.action_paths == (("Statement[0]", "kms:Decrypt"),)
    assert first.covers("KMS:decrypt") and not first.covers("kms:Encrypt")
    # The readable entries of a broken principal are compiled, the wildcard ARN left out.
    assert first.principal is not None and first.principal.accounts == {"111122223333"}
    assert good.covers("kms:PutKeyPolicy") and not good.conditioned
    assert last.is_deny and last.conditioned
    assert last.principal_names == ("Service:dynamodb.amazonaws.com",)
    assert [(c.operator.base, c.written_key) for c in last.clauses] == [
        ("Bool", "aws:SecureTransport")
    ]


def test_a_policy_with_problems_is_never_evaluated() -> None:
    from kmsguard.access import evaluate

    policy = parse_policy(BROKEN, kind="resource", tolerant=True)
    with pytest.raises(PolicyDocumentError) as err:
        evaluate(
            "arn:aws:iam::111122223333:root",
            "kms:Decrypt",
            KEY,
            identity_policies=[],
            resource_policy=policy,
        )
    assert err.value.path.endswith("Statement[0].Action[1]")
    with pytest.raises(PolicyDocumentError):
        parse_policy(policy, kind="resource")


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ("{not json", ""),
        ([], ""),
        ({"Version": "2012-10-17"}, "Statement"),
        ({"Statement": [], "Extra": 1, "Version": "1"}, "Extra"),
    ],
)
def test_a_document_that_is_no_policy_reads_as_one_without_statements(
    doc: object, path: str
) -> None:
    policy = parse_policy(doc, kind="resource", tolerant=True)  # type: ignore[arg-type]
    assert policy.statements == ()
    assert policy.problems[0].path == path


def test_a_well_formed_document_read_tolerantly_is_the_strict_policy() -> None:
    doc = {"Version": "2012-10-17", "Statement": [BROKEN["Statement"][2]]}  # type: ignore[index]
    policy = parse_policy(doc, kind="resource", tolerant=True)
    assert policy.problems == ()
    assert policy is parse_policy(doc, kind="resource")


def test_the_prover_refuses_a_policy_with_problems_as_the_evaluator_does() -> None:
    from kmsguard.access.prove import no_public_access

    policy = parse_policy(BROKEN, kind="resource", tolerant=True)
    with pytest.raises(PolicyDocumentError) as err:
        no_public_access(policy, ["111122223333"], timeout_s=5)
    assert err.value.path == "Statement[0].Action[1]"


class _Doc(dict):  # type: ignore[type-arg]
    """A mapping the parser reads in place (no private copy)."""


@pytest.mark.parametrize("tolerant", [False, True])
def test_what_tools_read_is_fixed_when_the_policy_is_read(tolerant: bool) -> None:
    stmt = _Doc(
        Effect="Allow",
        Principal=_Doc(AWS=["arn:aws:iam::111122223333:user/alice"]),
        Action="kms:Decrypt",
        Resource="*",
        Condition=_Doc(Bool=_Doc({"aws:SecureTransport": "true"})),
    )
    if tolerant:
        stmt["Sid"] = 5  # a malformed statement, read leniently
    doc = _Doc(Version="2012-10-17", Statement=[stmt])
    st = parse_policy(doc, kind="resource", tolerant=True).statements[0]
    stmt["Principal"]["AWS"].append("*")
    stmt["Condition"].clear()
    assert st.principal_names == ("arn:aws:iam::111122223333:user/alice",)
    assert st.conditioned and len(st.clauses) == 1
