"""ARNs as the product reads them: one parser, one account per ARN, one answer for a key's owner."""

from __future__ import annotations

import pytest

from kmsguard.access.arn import (
    Arn,
    account_of,
    arn_fields,
    iam_arn,
    iam_identity,
    is_account_id,
    is_key_arn,
    key_account,
    key_arn,
    managed_policy_name,
    named_accounts,
    parse_arn,
    session_role,
    table_arn,
    table_path,
)

A = "111122223333"
B = "444455556666"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
# The same account in digits a regex `\d` also matches: not an account AWS issues.
ARABIC = "".join(chr(0x0660 + int(c)) for c in A)
FULLWIDTH = "".join(chr(0xFF10 + int(c)) for c in A)


@pytest.mark.parametrize(
    ("text", "service", "account", "kind"),
    [
        (f"arn:aws:iam::{A}:user/alice", "iam", A, "user"),
        (f"arn:aws:iam::{A}:user/ops/team/alice", "iam", A, "user"),
        (f"arn:aws:iam::{A}:role/app", "iam", A, "role"),
        (f"arn:aws:sts::{A}:assumed-role/app/session-1", "sts", A, "assumed-role"),
        (f"arn:aws:iam::{A}:root", "iam", A, "root"),
        (f"arn:aws:iam::{A}:group/admins", "iam", A, "group"),
        (f"arn:aws:iam::{A}:policy/decrypt", "iam", A, "policy"),
        ("arn:aws:iam::aws:policy/ReadOnlyAccess", "iam", "aws", "policy"),
        (f"arn:aws:kms:eu-west-1:{A}:key/{KEY_ID}", "kms", A, "key"),
        (f"arn:aws:kms:eu-west-1:{A}:key/mrk-1234abcd12ab34cd56ef1234567890ab", "kms", A, "key"),
        (f"arn:aws:kms:eu-west-1:{A}:alias/app", "kms", A, "alias"),
        (f"arn:aws:dynamodb:eu-west-1:{A}:table/t", "dynamodb", A, "table"),
        (f"arn:aws:dynamodb:eu-west-1:{A}:table/t/index/by-name", "dynamodb", A, "table"),
        (
            f"arn:aws:dynamodb:eu-west-1:{A}:table/t/stream/2024-01-01T00:00:00.000",
            "dynamodb",
            A,
            "table",
        ),
        (
            f"arn:aws:dynamodb:eu-west-1:{A}:table/t/backup/01700000000000-abcdefgh",
            "dynamodb",
            A,
            "table",
        ),
        (
            f"arn:aws:dynamodb:eu-west-1:{A}:table/t/export/01700000000000-abcdefgh",
            "dynamodb",
            A,
            "table",
        ),
        (f"arn:aws-cn:kms:cn-north-1:{A}:key/{KEY_ID}", "kms", A, "key"),
        (f"arn:aws-us-gov:iam::{A}:role/app", "iam", A, "role"),
        ("arn:aws:s3:::bucket/object", "s3", "", "bucket"),
    ],
)
def test_every_arn_the_product_meets_is_read_with_its_account(
    text: str, service: str, account: str, kind: str
) -> None:
    arn = parse_arn(text)
    assert arn is not None and str(arn) == text
    assert (arn.service, arn.account, arn.resource_type) == (service, account, kind)
    assert account_of(text) == (account if is_account_id(account) else None)


def test_a_stream_arn_keeps_the_colons_of_its_label_in_the_resource() -> None:
    arn = parse_arn(f"arn:aws:dynamodb:us-east-1:{A}:table/t/stream/2024-01-01T00:00:00.000")
    assert arn is not None and arn.resource == "table/t/stream/2024-01-01T00:00:00.000"


@pytest.mark.parametrize(
    "text",
    [
        "kms.amazonaws.com",  # a service principal is not an ARN
        "*",
        "arn:aws:iam::*:root",  # a pattern: it owns no account
        f"arn:aws:iam::{A}",  # too few fields
        f"arn:aws:iam::{A}:",  # no resource
        "arn:aws:iam::1111222233334:root",  # 13 digits
        f"arn:aws:iam::{ARABIC}:root",
        f"arn:aws:iam::{FULLWIDTH}:root",
        f"arn:AWS:iam::{A}:root",  # partitions are lower case
        f"arn:evil:iam::{A}:root",  # not an AWS partition
        f" arn:aws:iam::{A}:root",
        f"arn:aws:iam::{A}:root".encode(),  # bytes are not text
        None,
        "arn:aws:iam::" + "1" * 100_000 + ":root",  # longer than IAM allows
    ],
)
def test_what_is_not_an_arn_names_no_account(text: object) -> None:
    assert parse_arn(text) is None
    assert account_of(text) is None


def test_an_account_id_principal_names_its_account() -> None:
    assert account_of(A) == A and is_account_id(A)
    assert not is_account_id(ARABIC) and not is_account_id(A + "\n")


def test_a_huge_arn_like_input_is_refused_without_reading_it_all() -> None:
    # Linear and bounded: a megabyte of colons is not split into a million fields.
    assert parse_arn("arn:" + ":" * 1_000_000) is None
    assert arn_fields("arn:" + ":" * 1_000) == ["arn", "", "", "", "", ":" * 996]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"arn:aws:kms:us-east-1:{A}:key/{KEY_ID}", True),
        (f"arn:aws-cn:kms:cn-north-1:{A}:key/{KEY_ID}", True),
        (f"arn:aws:kms:us-east-1:{A}:key/mrk-0123456789abcdef0123456789abcdef", True),
        # The two old readings disagreed on these: the prover took them as keys, the rules not.
        (f"arn:aws:kms::{A}:key/{KEY_ID}", False),  # KMS keys always live in a region
        (f"arn:aws:kms:us-east-1:{A}:key/{KEY_ID} extra", False),
        (f"arn:aws:kms:us-east-1:{A}:key/a.b", False),
        (f"arn:aws:kms:us-east-1:{A}:key/", False),
        (f"arn:aws:kms:us-east-1:{A}:alias/app", False),
        (f"arn:aws:kms:us-east-1:*:key/{KEY_ID}", False),
        (f"arn:aws:iam::{A}:key/{KEY_ID}", False),
    ],
)
def test_one_reading_of_a_key_arn(text: str, expected: bool) -> None:
    assert is_key_arn(text) is expected
    arn = parse_arn(text)
    assert (arn is not None and arn.is_key) is expected


def test_key_arn_builds_what_parse_reads_back() -> None:
    text = key_arn(A, KEY_ID, "eu-west-1")
    assert parse_arn(text) == Arn("aws", "kms", "eu-west-1", A, f"key/{KEY_ID}")


def test_the_key_account_is_its_arns_then_the_deploying_account_then_unknown() -> None:
    arn = f"arn:aws:kms:us-east-1:{A}:key/{KEY_ID}"
    assert key_account((arn, None), deploying=B) == A
    # A key policy's keyId given as an ARN names the key too.
    assert key_account((None, arn), deploying=B) == A
    assert key_account((None, KEY_ID), deploying=B) == B
    # Unknown: never a placeholder, never a guess.
    assert key_account((None, KEY_ID)) == ""
    assert key_account(("pending", None), deploying="000000000000x") == ""
    # Another service's ARN does not name the key.
    assert key_account((f"arn:aws:iam::{A}:root",), deploying=B) == B


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"arn:aws:iam::{A}:user/alice", ("user", A, "alice")),
        (f"arn:aws:iam::{A}:user/ops/team/alice", ("user", A, "alice")),
        (f"arn:aws:iam::{A}:role/service-role/app+1=a,b.c@d-e", ("role", A, "app+1=a,b.c@d-e")),
        (f"arn:aws:iam::{A}:root", None),
        (f"arn:aws:iam::{A}:group/admins", None),
        (f"arn:aws:sts::{A}:assumed-role/app/s", None),
        (f"arn:aws:iam::{A}:user/", None),
        (f"arn:aws:iam::{A}:user//alice", None),
        (f"arn:aws:iam::{A}:user/al ice", None),
        (f"arn:aws:iam::{A}:user/alice\n", None),
        (f"arn:aws:iam:us-east-1:{A}:user/alice", None),
        (f"arn:aws:iam::{ARABIC}:user/alice", None),
    ],
)
def test_an_iam_user_or_role_is_read_with_its_account_and_name(
    text: str, expected: tuple[str, str, str] | None
) -> None:
    assert iam_identity(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("arn:aws:iam::aws:policy/AdministratorAccess", "AdministratorAccess"),
        ("arn:aws:iam::aws:policy/service-role/AWSLambdaRole", "AWSLambdaRole"),
        ("arn:aws-cn:iam::aws:policy/job-function/DataScientist", "DataScientist"),
        (f"arn:aws:iam::{A}:policy/Mine", None),  # a customer managed policy
        ("arn:aws:iam::aws:role/AdministratorAccess", None),
        ("arn:aws:iam::aws:policy/", None),
    ],
)
def test_an_aws_managed_policy_is_read_with_its_name(text: str, expected: str | None) -> None:
    assert managed_policy_name(text) == expected


def test_a_session_acts_as_its_role_and_resource_paths_follow_the_type() -> None:
    assert session_role(f"arn:aws:sts::{A}:assumed-role/app/s-1") == f"arn:aws:iam::{A}:role/app"
    assert session_role(f"arn:aws-cn:sts::{A}:assumed-role/app/s") == (
        f"arn:aws-cn:iam::{A}:role/app"
    )
    for not_a_session in (
        f"arn:aws:sts::{A}:assumed-role/app",
        f"arn:aws:sts::{A}:assumed-role//s",
        f"arn:aws:iam::{A}:role/app",
        f"arn:aws:sts::{A}:federated-user/bob",
    ):
        assert session_role(not_a_session) is None
    table = parse_arn(f"arn:aws:dynamodb:us-east-1:{A}:table/t/index/by-name")
    alias = parse_arn(f"arn:aws:kms:us-east-1:{A}:alias/aws/dynamodb")
    assert table is not None and table.resource_path == "t/index/by-name"
    assert alias is not None and alias.is_alias and alias.resource_path == "aws/dynamodb"


def test_accounts_named_in_text_are_ascii_twelve_digit_runs() -> None:
    text = f'{{"AWS": ["arn:aws:iam::{A}:root", "{B}", "{ARABIC}", "1{A}", "{A}1"]}}'
    assert named_accounts(text) == [A, B]


def test_a_principal_in_other_digits_is_refused_not_taken_for_an_account() -> None:
    from kmsguard.access import PolicyDocumentError, parse_policy

    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ARABIC}, "Action": "kms:*", "Resource": "*"}
        ],
    }
    with pytest.raises(PolicyDocumentError, match="12-digit account id"):
        parse_policy(doc, kind="resource")


@pytest.mark.parametrize(
    ("text", "service", "iam", "account"),
    [
        ("dynamodb.amazonaws.com", True, False, False),
        ("kms.amazonaws.com.cn", True, False, False),
        ("dynamodb.amazonaws.com\n", False, False, False),
        ("DynamoDB.amazonaws.com", False, False, False),
        (f"arn:aws:iam::{A}:user/alice", False, True, True),
        (f"arn:aws-cn:sts::{A}:assumed-role/r/s", False, True, True),
        (f"arn:aws:iam::{A}:user/alice\n", False, False, False),
        (f"arn:aws:iam::{A}:user/al ice", False, False, False),
        (f"arn:aws:iam::{ARABIC}:user/alice", False, False, False),
        (f"arn:aws:iam::{FULLWIDTH}:root", False, False, False),
        (f"arn:aws:iam:us-east-1:{A}:user/alice", False, False, True),
        (f"arn:aws:kms:us-east-1:{A}:key/{KEY_ID}", False, False, True),
        ("arn:aws:iam::*:root", False, False, False),
        ("x" * 5000 + ".amazonaws.com", False, False, False),
    ],
)
def test_one_reading_of_callers_and_grantees(
    text: str, service: bool, iam: bool, account: bool
) -> None:
    from kmsguard.access.arn import is_account_arn, is_iam_principal_arn, is_service_principal

    assert (is_service_principal(text), is_iam_principal_arn(text), is_account_arn(text)) == (
        service,
        iam,
        account,
    )


@pytest.mark.parametrize(
    ("text", "alias", "reserved"),
    [
        ("alias/app", True, False),
        ("alias/aws/dynamodb", True, True),
        ("alias/AWS/dynamodb", True, False),  # compared as written, as the evaluator does
        ("alias/awsx", True, False),
        (f"arn:aws:kms:us-east-1:{A}:alias/app", True, False),
        (f"arn:aws:kms:us-east-1:{A}:alias/aws/dynamodb", True, True),
        (f"arn:aws:kms:us-east-1:{A}:key/{KEY_ID}", False, False),
        # A key ARN holding `:alias/` in its resource is a key ARN, not an alias.
        (f"arn:aws:kms:us-east-1:{A}:key/{KEY_ID}:alias/aws/x", False, False),
        ("arn:aws:kms:us-east-1:alias/aws/x", False, False),  # five fields: no ARN at all
        (KEY_ID, False, False),
        (None, False, False),
    ],
)
def test_one_reading_of_alias_names_and_arns(text: object, alias: bool, reserved: bool) -> None:
    from kmsguard.access.arn import is_alias_reference, is_reserved_alias

    assert (is_alias_reference(text), is_reserved_alias(text)) == (alias, reserved)


def test_alias_arn_builds_what_parse_reads_back() -> None:
    from kmsguard.access.arn import alias_arn

    built = alias_arn(A, "alias/aws/dynamodb", "eu-west-1")
    assert built == f"arn:aws:kms:eu-west-1:{A}:alias/aws/dynamodb"
    arn = parse_arn(built)
    assert arn is not None and arn.is_alias and arn.account == A


def test_table_arns_are_built_and_read_in_one_place() -> None:
    arn = table_arn(A, "orders", "eu-west-1")
    assert arn == f"arn:aws:dynamodb:eu-west-1:{A}:table/orders"
    assert table_path(arn, A, "eu-west-1") == "orders"
    assert table_path(f"{arn}/index/by-day", A, "eu-west-1") == "orders/index/by-day"
    assert (
        table_arn(A, "t", "cn-north-1", "aws-cn") == f"arn:aws-cn:dynamodb:cn-north-1:{A}:table/t"
    )
    assert table_path(f"arn:aws-cn:dynamodb:cn-north-1:{A}:table/t", A, "cn-north-1") is None
    assert (
        table_path(f"arn:aws-cn:dynamodb:cn-north-1:{A}:table/t", A, "cn-north-1", "aws-cn") == "t"
    )


@pytest.mark.parametrize(
    "text",
    [
        f"arn:aws:dynamodb:eu-west-1:{B}:table/orders",  # another account
        f"arn:aws:dynamodb:us-east-1:{A}:table/orders",  # another region
        f"arn:aws:dynamodb:eu-west-1:{FULLWIDTH}:table/orders",
        f"arn:aws:dynamodb:eu-west-1:{A}:tableorders",
        f"arn:aws:dynamodb:eu-west-1:{A}",
        f"arn:aws:kms:eu-west-1:{A}:table/orders",
        f"ARN:aws:dynamodb:eu-west-1:{A}:table/orders",
        "orders",
        "",
    ],
)
def test_table_path_names_only_this_account_and_region_s_tables(text: str) -> None:
    assert table_path(text, A, "eu-west-1") is None


def test_iam_arns_have_no_region() -> None:
    assert iam_arn(A, "user/alice") == f"arn:aws:iam::{A}:user/alice"
    assert parse_arn(iam_arn(A, "role/ops/r")) == Arn("aws", "iam", "", A, "role/ops/r")
