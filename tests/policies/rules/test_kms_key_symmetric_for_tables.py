"""kms-key-symmetric-for-tables: a table's key is symmetric and enabled (one property per case)."""

from __future__ import annotations

from typing import Any

import pytest

from kmsguard.contract import AwsType
from policies.rules import kms_key_symmetric_for_tables as symmetric
from tests.policies.helpers import KEY_ARN, Res, key_props, run_rule, stack_args

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def key(**over):
    return Res(AwsType.KMS_KEY, "key", {**key_props(**over), "arn": over.get("arn", KEY_ARN)})


def table(sse, deps=None):
    return Res(
        AwsType.DYNAMODB_TABLE,
        "table",
        {"serverSideEncryption": sse},
        **({"serverSideEncryption": deps} if deps else {}),
    )


def _run(k: Res) -> Any:
    return run_rule(symmetric, stack_args([k, table({"enabled": True, "kmsKeyArn": KEY_ARN})]))


@pytest.mark.parametrize(
    ("over", "code", "witness", "detail"),
    [
        (
            {"customerMasterKeySpec": "RSA_2048"},
            "key-not-symmetric-encryption",
            {
                "property": "customerMasterKeySpec",
                "value": "RSA_2048",
                "expected": "SYMMETRIC_DEFAULT",
            },
            "customerMasterKeySpec is 'RSA_2048', expected SYMMETRIC_DEFAULT",
        ),
        (
            {"keyUsage": "SIGN_VERIFY"},
            "key-not-symmetric-encryption",
            {"property": "keyUsage", "value": "SIGN_VERIFY", "expected": "ENCRYPT_DECRYPT"},
            "keyUsage is 'SIGN_VERIFY', expected ENCRYPT_DECRYPT",
        ),
        (
            {"isEnabled": False},
            "key-disabled",
            {"table": "table"},
            "the key is disabled, so the table is inaccessible",
        ),
    ],
)
def test_a_tables_key_must_be_symmetric_and_enabled(over, code, witness, detail):
    k = key(**over)
    r = _run(k)
    [f] = r.found
    assert (f.rule, f.code, f.witness, f.urn) == (
        "kms-key-symmetric-for-tables",
        code,
        witness,
        k.urn,
    )
    assert f.resource == "Key 'key' (used by table 'table')"
    assert r.messages == [(f"Key 'key' (used by table 'table'): {detail}", k.urn)]


def test_a_symmetric_enabled_key_passes():
    r = _run(key())
    assert r.messages == [] and r.deferred == []


@pytest.mark.parametrize(
    ("over", "code", "detail"),
    [
        ({"keyUsage": UNKNOWN}, "key-property-unknown", "keyUsage is unknown during preview"),
        ({"isEnabled": UNKNOWN}, "key-enabled-unknown", "isEnabled is unknown during preview"),
    ],
)
def test_unknown_key_properties_defer(over, code, detail):
    r = _run(key(**over))
    assert r.found == [] and r.deferred_codes == [code]
    assert r.deferred == [f"Key 'key' (used by table 'table'): {detail}"]
