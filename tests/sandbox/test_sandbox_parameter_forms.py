"""Table, index and key parameters read whole: names, ARNs and key ids (no sandbox running)."""

from __future__ import annotations

import pytest

from kmsguard.access.arn import table_arn
from sandbox.canonical import Refused
from sandbox.identifiers import canonical_kms, table_name
from sandbox.services.dynamodb import _tables_and_actions
from sandbox.settings import ACCOUNT_ID
from sandbox.tables import table_arn as sandbox_table_arn
from sandbox.wire import ApiRequest

REGION = "us-east-1"
OTHER = "444455556666" if ACCOUNT_ID != "444455556666" else "111122223333"


def _refusal(value: object, **kw: bool) -> tuple[str, str]:
    with pytest.raises(Refused) as refused:
        table_name(REGION, value, "TableArn", **kw)
    return refused.value.response.code, refused.value.response.message


def test_a_name_and_this_sandbox_s_table_arn_name_the_table() -> None:
    assert table_name(REGION, "orders", "TableName") == "orders"
    arn = table_arn(ACCOUNT_ID, "orders", REGION)
    assert arn == f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/orders"
    assert table_name(REGION, arn, "TableArn") == "orders"
    assert sandbox_table_arn(REGION, "orders") == arn
    assert sandbox_table_arn(REGION, arn) == arn


@pytest.mark.parametrize(
    "value",
    [
        f"arn:aws:dynamodb:{REGION}:{OTHER}:table/orders",
        f"arn:aws:dynamodb:eu-west-1:{ACCOUNT_ID}:table/orders",
        f"arn:aws-cn:dynamodb:{REGION}:{ACCOUNT_ID}:table/orders",
        f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:table/orders",
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:tables/orders",
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table",
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}",
        f"arn:aws:dynamodb:{REGION.upper()}:{ACCOUNT_ID}:table/orders",
    ],
)
def test_another_account_region_partition_or_resource_is_not_found(value: str) -> None:
    code, message = _refusal(value)
    assert (code, message) == (
        "ResourceNotFoundException",
        f"Requested resource not found: {value}",
    )


@pytest.mark.parametrize(
    "path",
    ["orders/index/by-day", "orders/stream/2026-01-01T00:00:00.000", "", "a b", "x" * 256, "t\n"],
)
def test_an_arn_of_anything_but_a_table_name_is_invalid(path: str) -> None:
    code, message = _refusal(f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{path}")
    assert code == "ValidationException" and "is not a table name or table ARN" in message


def test_an_arn_where_a_name_is_required_is_refused() -> None:
    arn = table_arn(ACCOUNT_ID, "orders", REGION)
    code, message = _refusal(arn, arn_allowed=False)
    assert (code, message) == ("ValidationException", "TableArn takes a table name, not an ARN.")


@pytest.mark.parametrize("name", ["orders\n", "orders\r\n", "\norders", "ord\ners"])
def test_a_table_name_with_a_newline_is_invalid(name: str) -> None:
    with pytest.raises(Refused) as refused:
        table_name(REGION, name, "TableName")
    assert refused.value.response.code == "ValidationException"
    assert "is not a table name or table ARN" in refused.value.response.message


def _query(index: str) -> ApiRequest:
    params = {"TableName": "orders", "IndexName": index}
    return ApiRequest(None, "dynamodb", REGION, "Query", "json", params)


@pytest.mark.parametrize("index", ["by-day\n", "by-day\r\n", "ab", "x" * 256])
def test_an_index_name_with_a_newline_or_the_wrong_length_is_invalid(index: str) -> None:
    with pytest.raises(Refused) as refused:
        _tables_and_actions(_query(index))
    assert (refused.value.response.code, refused.value.response.message) == (
        "ValidationException",
        "IndexName must be an index name: 3 to 255 of A-Z a-z 0-9 _ . -",
    )


def test_a_well_formed_index_name_is_read() -> None:
    assert _tables_and_actions(_query("by-day")) != []


@pytest.mark.parametrize(
    "key_id",
    ["1234abcd-12ab-34cd-56ef-1234567890ab\n", "mrk-1234abcd-12ab-34cd-56ef-1234567890ab\n"],
)
def test_a_key_id_with_a_trailing_newline_is_an_invalid_key_id(key_id: str) -> None:
    request = ApiRequest(None, "kms", REGION, "DescribeKey", "json", {"KeyId": key_id})
    changed, refusal = canonical_kms(request)
    assert changed is None and refusal is not None
    assert (refusal.code, refusal.message) == ("NotFoundException", f"Invalid keyId {key_id}")
