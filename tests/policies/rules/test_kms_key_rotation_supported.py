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
    ("over", "code", "witness", "detail"),
    [
        (
            {"customerMasterKeySpec": "RSA_2048"},
            "rotation-on-unsupported-key-spec",
            {"keySpec": "RSA_2048", "keyUsage": "ENCRYPT_DECRYPT"},
            "enableKeyRotation is true on a RSA_2048 key for ENCRYPT_DECRYPT; AWS rotates only "
            "symmetric encryption keys and rejects this when applying",
        ),
        (
            {"customerMasterKeySpec": None, "keySpec": "ECC_NIST_P256"},
            "rotation-on-unsupported-key-spec",
            {"keySpec": "ECC_NIST_P256", "keyUsage": "ENCRYPT_DECRYPT"},
            None,
        ),
        (
            {"customerMasterKeySpec": "HMAC_256", "keyUsage": "GENERATE_VERIFY_MAC"},
            "rotation-on-unsupported-key-spec",
            {"keySpec": "HMAC_256", "keyUsage": "GENERATE_VERIFY_MAC"},
            None,
        ),
        (
            {"keyUsage": "SIGN_VERIFY"},
            "rotation-on-unsupported-key-spec",
            {"keySpec": "SYMMETRIC_DEFAULT", "keyUsage": "SIGN_VERIFY"},
            None,
        ),
        (
            {"customKeyStoreId": "cks-1234567890abcdef0"},
            "rotation-in-custom-key-store",
            {"customKeyStoreId": "cks-1234567890abcdef0"},
            "enableKeyRotation is true on a key in custom key store 'cks-1234567890abcdef0'; "
            "AWS does not rotate keys in custom key stores",
        ),
    ],
)
def test_rotation_on_a_key_aws_cannot_rotate_fails(
    over: dict[str, Any], code: str, witness: dict[str, Any], detail: str | None
) -> None:
    r = _run(**over)
    [f] = r.found
    assert (f.rule, f.code, f.resource, f.witness) == (
        "kms-key-rotation-supported",
        code,
        "Key 'r'",
        witness,
    )
    assert r.texts == [f"Key 'r': {f.detail}"]
    if detail is not None:
        assert f.detail == detail


def test_an_asymmetric_key_without_rotation_passes() -> None:
    r = _run(customerMasterKeySpec="RSA_2048", enableKeyRotation=False, rotationPeriodInDays=None)
    assert r.messages == [] and r.deferred == []


def test_unknown_spec_is_deferred() -> None:
    r = _run(customerMasterKeySpec=UNKNOWN)
    assert r.messages == [] and r.deferred_codes == ["key-spec-unknown"]
    assert r.deferred == ["Key 'r': key spec, usage or key store is unknown during preview"]


def test_unknown_rotation_is_deferred() -> None:
    r = _run(enableKeyRotation=UNKNOWN)
    assert r.messages == [] and r.deferred_codes == ["rotation-unknown"]
    assert r.deferred == ["Key 'r': enableKeyRotation is unknown during preview"]
