"""kms-key-rotation-enabled: rotation on, its period within the maximum (one property per case)."""

from __future__ import annotations

import pytest

from kmsguard.contract import AwsType
from policies.rules import kms_key_rotation_enabled as rotation
from tests.policies.helpers import key_props, resource_args, run_rule

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def test_baseline_compliant_key_passes():
    r = run_rule(rotation, resource_args(AwsType.KMS_KEY, key_props()))
    assert r.messages == [] and r.deferred == []


def test_key_policy_resource_form_is_understood():
    props = {"keyId": "k", "policy": key_props()["policy"]}
    assert run_rule(rotation, resource_args(AwsType.KMS_KEY_POLICY, props)).messages == []


@pytest.mark.parametrize(
    ("props", "config", "expected"),
    [
        ({"enableKeyRotation": False}, None, "automatic key rotation is not enabled"),
        ({"enableKeyRotation": None}, None, "automatic key rotation is not enabled"),
        ({"rotationPeriodInDays": 730}, None, "above the maximum of 365"),
        ({"rotationPeriodInDays": 200}, {"maxRotationPeriodDays": 180}, "above the maximum of 180"),
        (
            {"rotationPeriodInDays": None},
            {"maxRotationPeriodDays": 180},
            "rotation period is 365 days",
        ),
        ({"rotationPeriodInDays": 30}, None, "below AWS's 90 days"),
    ],
)
def test_rotation_violations(props, config, expected):
    r = run_rule(rotation, resource_args(AwsType.KMS_KEY, key_props(**props), config))
    assert len(r.messages) == 1 and expected in r.texts[0]


def test_rotation_not_required_for_asymmetric_keys():
    props = key_props(
        enableKeyRotation=False, customerMasterKeySpec="RSA_2048", keyUsage="SIGN_VERIFY"
    )
    assert run_rule(rotation, resource_args(AwsType.KMS_KEY, props)).messages == []


def test_rotation_remediation_turns_rotation_on_within_maximum():
    fixed = rotation.remediate(
        resource_args(AwsType.KMS_KEY, key_props(enableKeyRotation=False, rotationPeriodInDays=900))
    )
    assert (
        fixed is not None
        and fixed["enableKeyRotation"] is True
        and fixed["rotationPeriodInDays"] == 365
    )
    assert rotation.remediate(resource_args(AwsType.KMS_KEY, key_props())) is None


def test_rotation_unknown_is_deferred_not_passed():
    r = run_rule(rotation, resource_args(AwsType.KMS_KEY, key_props(enableKeyRotation=UNKNOWN)))
    assert r.messages == [] and "enableKeyRotation is unknown" in r.deferred[0]
