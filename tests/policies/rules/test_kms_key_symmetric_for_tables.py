"""kms-key-symmetric-for-tables: a table's key is symmetric and enabled (one property per case)."""

from __future__ import annotations

from kmsguard.contract import AwsType
from policies.rules import kms_key_symmetric_for_tables as symmetric
from tests.policies.helpers import KEY_ARN, Res, key_props, run_rule, stack_args


def key(**over):
    return Res(AwsType.KMS_KEY, "key", {**key_props(**over), "arn": over.get("arn", KEY_ARN)})


def table(sse, deps=None):
    return Res(
        AwsType.DYNAMODB_TABLE,
        "table",
        {"serverSideEncryption": sse},
        **({"serverSideEncryption": deps} if deps else {}),
    )


def test_symmetric_rule():
    for over, expected in [
        ({"customerMasterKeySpec": "RSA_2048"}, "customerMasterKeySpec is 'RSA_2048'"),
        ({"keyUsage": "SIGN_VERIFY"}, "keyUsage is 'SIGN_VERIFY'"),
        ({"isEnabled": False}, "the key is disabled"),
    ]:
        k = key(**over)
        r = run_rule(symmetric, stack_args([k, table({"enabled": True, "kmsKeyArn": KEY_ARN})]))
        assert len(r.messages) == 1 and expected in r.texts[0]
    assert (
        run_rule(
            symmetric, stack_args([key(), table({"enabled": True, "kmsKeyArn": KEY_ARN})])
        ).messages
        == []
    )
