"""DynamoDB tables as moto holds them: a table's name, its ARN and the KMS key protecting it."""

from __future__ import annotations

from typing import Any

from moto.dynamodb.models import dynamodb_backends

from kmsguard.access import arn
from kmsguard.access.arn import parse_arn
from sandbox.keys import find_key
from sandbox.settings import ACCOUNT_ID


def table_name_of(name_or_arn: str) -> str:
    arn = parse_arn(name_or_arn)
    if arn is not None and arn.service == "dynamodb" and arn.resource_type == "table":
        return arn.resource_path.split("/", 1)[0]
    return name_or_arn


def table_arn(region: str, name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return arn.table_arn(ACCOUNT_ID, name_or_arn, region)


def table_key(region: str, name_or_arn: str) -> Any | None:
    """The KMS key protecting a table, or None for an AWS-owned key (or no such table)."""
    table = dynamodb_backends[ACCOUNT_ID][region].tables.get(table_name_of(name_or_arn))
    sse = getattr(table, "sse_specification", None) or {}
    if not sse.get("Enabled"):
        return None
    return find_key(region, sse.get("KMSMasterKeyId"))
