"""A table parameter's name or ARN, read as kmsguard reads ARNs (no running sandbox needed)."""

from __future__ import annotations

import pytest

from kmsguard.access.arn import table_arn
from sandbox.canonical import Refused
from sandbox.identifiers import table_name
from sandbox.settings import ACCOUNT_ID
from sandbox.tables import table_arn as sandbox_table_arn

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
    "path", ["orders/index/by-day", "orders/stream/2026-01-01T00:00:00.000", "", "a b", "x" * 256]
)
def test_an_arn_of_anything_but_a_table_name_is_invalid(path: str) -> None:
    code, message = _refusal(f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{path}")
    assert code == "ValidationException" and "is not a table name or table ARN" in message


def test_an_arn_where_a_name_is_required_is_refused() -> None:
    arn = table_arn(ACCOUNT_ID, "orders", REGION)
    code, message = _refusal(arn, arn_allowed=False)
    assert (code, message) == ("ValidationException", "TableArn takes a table name, not an ARN.")
