"""kms-key-rotation-supported: rotation only where AWS can rotate (one property per case)."""

from __future__ import annotations

from typing import Any

import pytest

from kmsguard.contract import AwsType
from policies.rules import kms_key_rotation_supported as rule
from tests.policies.helpers import key_props, resource_args, run_rule

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def _run(**over: Any) -> Any:
    return run_rule(rule, resource_args(AwsType.KMS_KEY, key_props(**over)))


def test_baseline_symmetric_key_with_rotation_passes() -> None:
    r = _run()
    assert r.messages == [] and r.deferred == []


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"customerMasterKeySpec": "RSA_2048"}, "on a RSA_2048 key for ENCRYPT_DECRYPT"),
        ({"customerMasterKeySpec": None, "keySpec": "ECC_NIST_P256"}, "ECC_NIST_P256"),
        ({"customerMasterKeySpec": "HMAC_256", "keyUsage": "GENERATE_VERIFY_MAC"}, "HMAC_256"),
        ({"keyUsage": "SIGN_VERIFY"}, "for SIGN_VERIFY"),
        ({"customKeyStoreId": "cks-1234567890abcdef0"}, "custom key store"),
    ],
)
def test_rotation_on_a_key_aws_cannot_rotate_fails(over: dict[str, Any], expected: str) -> None:
    r = _run(**over)
    assert len(r.texts) == 1 and expected in r.texts[0], r.texts


def test_an_asymmetric_key_without_rotation_passes() -> None:
    r = _run(customerMasterKeySpec="RSA_2048", enableKeyRotation=False, rotationPeriodInDays=None)
    assert r.messages == [] and r.deferred == []


def test_unknown_spec_is_deferred() -> None:
    r = _run(customerMasterKeySpec=UNKNOWN)
    assert r.messages == [] and len(r.deferred) == 1
