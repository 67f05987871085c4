"""Malformed documents and scenarios raise PolicyDocumentError naming the path."""

from __future__ import annotations

from typing import Any

import pytest

from kmsguard.access import PolicyDocumentError, decide, evaluate, parse_policy
from tests.access.docs import ALICE, KEY, ROOT_DELEGATION, aws, doc, scenario, stmt

GOOD = stmt(action="kms:Decrypt")

# (id, document, kind, path, message fragment)
BAD: list[tuple[str, Any, str, str, str]] = [
    ("not JSON", "{not json", "identity", "", "not JSON"),
    ("JSON but not an object", "[1, 2]", "identity", "", "must be a JSON object"),
    (
        "unknown top-level key",
        {"Statement": [GOOD], "Statment": []},
        "identity",
        "Statment",
        "unknown top-level key",
    ),
    (
        "bad Version",
        {"Version": "2020-01-01", "Statement": [GOOD]},
        "identity",
        "Version",
        "2012-10-17",
    ),
    ("missing Statement", {"Version": "2012-10-17"}, "identity", "Statement", "missing"),
    ("Statement is a string", {"Statement": "Allow"}, "identity", "Statement", "list or an object"),
    (
        "Statement entry is a list",
        doc(GOOD, [GOOD]),
        "identity",
        "Statement[1]",
        "must be an object",
    ),
    (
        "missing Effect",
        doc(GOOD, {"Action": "kms:*", "Resource": "*"}),
        "identity",
        "Statement[1].Effect",
        "missing",
    ),
    (
        "unknown Effect",
        doc(GOOD, GOOD, {**GOOD, "Effect": "Permit"}),
        "identity",
        "Statement[2].Effect",
        "'Permit'",
    ),
    (
        "lower-case Effect",
        doc({**GOOD, "Effect": "allow"}),
        "identity",
        "Statement[0].Effect",
        "Allow or Deny",
    ),
    (
        "Action and NotAction",
        doc({**GOOD, "NotAction": "kms:Encrypt"}),
        "identity",
        "Statement[0]",
        "both Action and NotAction",
    ),
    (
        "neither Action nor NotAction",
        doc({"Effect": "Allow", "Resource": "*"}),
        "identity",
        "Statement[0]",
        "needs Action or NotAction",
    ),
    ("empty Action list", doc(stmt(action=[])), "identity", "Statement[0].Action", "empty list"),
    (
        "empty Action string",
        doc(stmt(action="")),
        "identity",
        "Statement[0].Action",
        "must not be empty",
    ),
    (
        "Action without service",
        doc(stmt(action=["kms:Decrypt", "Decrypt"])),
        "identity",
        "Statement[0].Action[1]",
        "service:Action",
    ),
    (
        "Action is a number",
        doc(stmt(action=3)),
        "identity",
        "Statement[0].Action",
        "string or a list",
    ),
    (
        "missing Resource",
        doc({"Effect": "Allow", "Action": "kms:*"}),
        "identity",
        "Statement[0]",
        "needs Resource or NotResource",
    ),
    (
        "Resource not an ARN",
        doc(stmt(resource=["*", "my-key"])),
        "identity",
        "Statement[0].Resource[1]",
        "not an ARN",
    ),
    (
        "Principal in identity policy",
        doc(stmt(principal=aws(ALICE))),
        "identity",
        "Statement[0].Principal",
        "identity-based policy must not",
    ),
    (
        "missing Principal in resource policy",
        doc(GOOD),
        "resource",
        "Statement[0]",
        "needs Principal or NotPrincipal",
    ),
    (
        "Principal as a bare ARN string",
        doc(stmt(principal=ALICE)),
        "resource",
        "Statement[0].Principal",
        '"*" or an object',
    ),
    (
        "unknown principal type",
        doc(stmt(principal={"User": ALICE})),
        "resource",
        "Statement[0].Principal.User",
        "unknown principal type",
    ),
    (
        "principal not an ARN",
        doc(stmt(principal=aws("alice"))),
        "resource",
        "Statement[0].Principal.AWS",
        "12-digit",
    ),
    (
        "wildcard in principal ARN",
        doc(stmt(principal=aws("arn:aws:iam::111122223333:user/*"))),
        "resource",
        "Statement[0].Principal.AWS",
        "wildcards",
    ),
    (
        "unknown statement key",
        doc({**GOOD, "Condtion": {}}),
        "identity",
        "Statement[0].Condtion",
        "unknown statement key",
    ),
    ("Sid not a string", doc({**GOOD, "Sid": 1}), "identity", "Statement[0].Sid", "string"),
    (
        "Condition not an object",
        doc(stmt(condition=["x"])),
        "identity",
        "Statement[0].Condition",
        "object",
    ),
    (
        "Null with IfExists",
        doc(stmt(condition={"NullIfExists": {"a:b": "true"}})),
        "identity",
        "Statement[0].Condition",
        "unknown condition operator",
    ),
    (
        "operator block not an object",
        doc(stmt(condition={"StringEquals": "x"})),
        "identity",
        "Statement[0].Condition.StringEquals",
        "non-empty object",
    ),
    (
        "condition value is an object",
        doc(stmt(condition={"StringEquals": {"a:b": {"x": 1}}})),
        "identity",
        "Statement[0].Condition.StringEquals.a:b",
        "not an object",
    ),
    (
        "condition value is null",
        doc(stmt(condition={"StringEquals": {"a:b": [None]}})),
        "identity",
        "Statement[0].Condition.StringEquals.a:b[0]",
        "not null",
    ),
    (
        "condition values empty",
        doc(stmt(condition={"StringEquals": {"a:b": []}})),
        "identity",
        "Statement[0].Condition.StringEquals.a:b",
        "empty list",
    ),
    (
        "Numeric value not a number",
        doc(stmt(condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "soon"}})),
        "identity",
        "Statement[0].Condition.NumericLessThan.aws:MultiFactorAuthAge",
        "not a number",
    ),
    (
        "Bool value not boolean",
        doc(stmt(condition={"Bool": {"aws:SecureTransport": "yes"}})),
        "identity",
        "Statement[0].Condition.Bool.aws:SecureTransport",
        "'true' or 'false'",
    ),
    (
        "Date value not a date",
        doc(stmt(condition={"DateLessThan": {"aws:CurrentTime": "tomorrow"}})),
        "identity",
        "Statement[0].Condition.DateLessThan.aws:CurrentTime",
        "date",
    ),
    (
        "IpAddress value not a CIDR",
        doc(stmt(condition={"IpAddress": {"aws:SourceIp": "10.0.0.300/8"}})),
        "identity",
        "Statement[0].Condition.IpAddress.aws:SourceIp",
        "CIDR",
    ),
    (
        "Arn value not a string",
        doc(stmt(condition={"ArnLike": {"aws:PrincipalArn": 5}})),
        "identity",
        "Statement[0].Condition.ArnLike.aws:PrincipalArn",
        "ARN",
    ),
]


@pytest.mark.parametrize(
    ("document", "kind", "path", "fragment"), [pytest.param(*c[1:], id=c[0]) for c in BAD]
)
def test_bad_document(document: Any, kind: Any, path: str, fragment: str) -> None:
    with pytest.raises(PolicyDocumentError) as info:
        parse_policy(document, kind=kind)
    assert info.value.path == path
    assert fragment in info.value.message
    assert str(info.value) == (f"{path}: {info.value.message}" if path else info.value.message)


def test_unknown_condition_operator_message_names_path_and_allowed() -> None:
    bad = doc(GOOD, GOOD, stmt(condition={"StringEqualz": {"kms:ViaService": "x"}}))
    with pytest.raises(PolicyDocumentError) as info:
        parse_policy(bad, kind="identity")
    assert info.value.path == "Statement[2].Condition"
    text = str(info.value)
    assert text.startswith(
        "Statement[2].Condition: unknown condition operator 'StringEqualz'; allowed: StringEquals,"
    )
    assert "IfExists" in text and "ForAnyValue:" in text


def test_is_a_value_error() -> None:
    assert issubclass(PolicyDocumentError, ValueError)


def test_decide_names_the_document_with_the_error() -> None:
    bad = doc(stmt(condition={"StringEqualz": {"a:b": "x"}}))
    with pytest.raises(PolicyDocumentError) as info:
        decide(scenario(identity=[doc(GOOD), bad], resource_policy=doc(ROOT_DELEGATION)))
    assert info.value.policy == "identity[1]"
    assert info.value.path == "Statement[0].Condition"
    assert str(info.value).startswith("identity[1].Statement[0].Condition: unknown condition")


def test_decide_resource_policy_error() -> None:
    with pytest.raises(PolicyDocumentError) as info:
        decide(scenario(resource_policy=doc(GOOD)))
    assert str(info.value).startswith("resource.Statement[0]: needs Principal")


@pytest.mark.parametrize(
    ("bad", "path"),
    [
        ({**scenario(), "principal": None}, "principal"),
        ({**scenario(), "action": ""}, "action"),
        ({**scenario(), "resource": 7}, "resource"),
        ({**scenario(), "identity_policies": {"Statement": []}}, "identity_policies"),
        ({**scenario(), "context": ["a"]}, "context"),
        ({**scenario(), "context": {"aws:SourceIp": {"x": 1}}}, "context.aws:SourceIp"),
        ({**scenario(), "identity_policy": []}, "identity_policy"),
    ],
)
def test_bad_scenario(bad: dict, path: str) -> None:
    with pytest.raises(PolicyDocumentError) as info:
        decide(bad)
    assert info.value.path == path


def test_scenario_must_be_an_object() -> None:
    with pytest.raises(PolicyDocumentError):
        decide([1])  # type: ignore[arg-type]


def test_parsed_policy_of_wrong_kind_is_rejected() -> None:
    identity = parse_policy(doc(GOOD), kind="identity")
    with pytest.raises(PolicyDocumentError) as info:
        evaluate(ALICE, "kms:Decrypt", KEY, identity_policies=[], resource_policy=identity)
    assert "expected a resource policy" in str(info.value)


def test_missing_version_is_accepted() -> None:
    assert parse_policy({"Statement": [GOOD]}, kind="identity").version is None


# Malformed mechanisms: one message naming the scenario key (the document) and the path.
_ROLE_SESSION = "arn:aws:sts::111122223333:assumed-role/KeyUser/s"
BAD_MECHANISMS: list[tuple[str, dict[str, Any], str]] = [
    (
        "boundary with a Principal",
        {"permissions_boundary": doc(stmt(principal=aws(ALICE)))},
        "permissions_boundary.Statement[0].Principal: an identity-based policy must not have",
    ),
    (
        "SCP level not a policy",
        {"scps": [doc(GOOD), {"Statement": [{"Effect": "Permit"}]}]},
        "scps[1].Statement[0].Effect:",
    ),
    ("SCPs not a list", {"scps": doc(GOOD)}, "scps: must be a list of policy documents"),
    (
        "RCP without Principal",
        {"rcps": [doc(GOOD)]},
        "rcps[0].Statement[0]: needs Principal or NotPrincipal",
    ),
    (
        "session policy list holds a string",
        {"principal": _ROLE_SESSION, "session_policies": ["{nope"]},
        "session_policies[0]: not JSON",
    ),
    (
        "VPC endpoint policy without Statement",
        {"vpce_policy": {"Version": "2012-10-17"}},
        "vpce_policy.Statement: missing",
    ),
    (
        "grant with an unknown operation",
        {
            "grants": [
                {"GrantId": "g", "GranteePrincipal": ALICE, "Operations": ["Decrypt", "Read"]}
            ]
        },
        "grants[0].Operations[1]: 'Read' is not a grant operation",
    ),
    (
        "grant without a grantee",
        {"grants": [{"GrantId": "g", "Operations": ["Decrypt"]}]},
        "grants[0].GranteePrincipal: None is not a principal",
    ),
    # The grantee is read as every ARN is (kmsguard.access.arn): an account in other digits, a
    # trailing newline or a space in the name is no principal AWS issues.
    (
        "grant to an account written in other digits",
        {
            "grants": [
                {
                    "GrantId": "g",
                    "GranteePrincipal": "arn:aws:iam::\u0661\u0661\u0661\u0661\u0662\u0662"
                    "\u0662\u0662\u0663\u0663\u0663\u0663:user/alice",
                    "Operations": ["Decrypt"],
                }
            ]
        },
        "grants[0].GranteePrincipal: 'arn:aws:iam::",
    ),
    (
        "grant to a principal with a trailing newline",
        {"grants": [{"GrantId": "g", "GranteePrincipal": ALICE + "\n", "Operations": ["Decrypt"]}]},
        "grants[0].GranteePrincipal: ",
    ),
    (
        "caller with a trailing newline",
        {"principal": ALICE + "\n"},
        "principal: ",
    ),
    (
        "grant constraint not an object of strings",
        {
            "grants": [
                {
                    "GrantId": "g",
                    "GranteePrincipal": ALICE,
                    "Operations": ["Decrypt"],
                    "Constraints": {"EncryptionContextSubset": {"Dept": 1}},
                }
            ]
        },
        "grants[0].Constraints.EncryptionContextSubset.Dept: encryption context keys and values",
    ),
    (
        "grant with an unknown constraint",
        {
            "grants": [
                {
                    "GrantId": "g",
                    "GranteePrincipal": ALICE,
                    "Operations": ["Decrypt"],
                    "Constraints": {"EncryptionContextLike": {}},
                }
            ]
        },
        "grants[0].Constraints.EncryptionContextLike: unknown constraint",
    ),
    ("bad request_time", {"request_time": "yesterday"}, "request_time: 'yesterday' is not an ISO"),
    (
        "request_time and a context time",
        {"request_time": "2026-01-01T00:00:00Z", "context": {"aws:CurrentTime": "x"}},
        "request_time: give request_time or the context's aws:CurrentTime, not both",
    ),
    (
        "session policies for a user",
        {"session_policies": [doc(GOOD)]},
        "session_policies: session policies belong to a role session",
    ),
    (
        "a boundary on the root user",
        {"principal": "arn:aws:iam::111122223333:root", "permissions_boundary": doc(GOOD)},
        "permissions_boundary: a permissions boundary belongs to an IAM user or role",
    ),
    (
        "a key policy given for an alias",
        {
            "resource": "arn:aws:kms:us-east-1:111122223333:alias/orders",
            "resource_policy": doc(ROOT_DELEGATION),
        },
        "resource_policy: an alias has no resource-based policy",
    ),
]


@pytest.mark.parametrize(
    ("change", "message"), [pytest.param(c[1], c[2], id=c[0]) for c in BAD_MECHANISMS]
)
def test_malformed_mechanism_names_document_and_path(change: dict[str, Any], message: str) -> None:
    case = {**scenario(resource_policy=doc(ROOT_DELEGATION)), **change}
    with pytest.raises(PolicyDocumentError) as err:
        decide(case)
    assert str(err.value).startswith(message), str(err.value)
