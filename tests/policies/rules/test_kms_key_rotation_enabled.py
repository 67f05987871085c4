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
    ("props", "config", "code", "witness", "detail"),
    [
        (
            {"enableKeyRotation": False},
            None,
            "rotation-disabled",
            {"enabled": False},
            "automatic key rotation is not enabled",
        ),
        (
            {"enableKeyRotation": None},
            None,
            "rotation-disabled",
            {"enabled": None},
            "automatic key rotation is not enabled",
        ),
        (
            {"rotationPeriodInDays": 730},
            None,
            "rotation-period-above-maximum",
            {"days": 730, "maximum": 365},
            "rotation period is 730 days, above the maximum of 365",
        ),
        (
            {"rotationPeriodInDays": 200},
            {"maxRotationPeriodDays": 180},
            "rotation-period-above-maximum",
            {"days": 200, "maximum": 180},
            "rotation period is 200 days, above the maximum of 180",
        ),
        (
            {"rotationPeriodInDays": None},
            {"maxRotationPeriodDays": 180},
            "rotation-period-above-maximum",
            {"days": 365, "maximum": 180},
            "rotation period is 365 days, above the maximum of 180",
        ),
        (
            {"rotationPeriodInDays": 30},
            None,
            "rotation-period-below-aws-minimum",
            {"days": 30, "minimum": 90},
            "rotation period 30 is below AWS's 90 days",
        ),
        (
            {"rotationPeriodInDays": "soon"},
            None,
            "rotation-period-not-a-number",
            {"value": "'soon'"},
            "rotationPeriodInDays 'soon' is not a number",
        ),
    ],
)
def test_rotation_violations(props, config, code, witness, detail):
    r = run_rule(rotation, resource_args(AwsType.KMS_KEY, key_props(**props), config))
    [f] = r.found
    assert (f.rule, f.code, f.resource, f.detail, f.witness) == (
        "kms-key-rotation-enabled",
        code,
        "Key 'r'",
        detail,
        witness,
    )
    assert r.texts == [f"Key 'r': {detail}"]


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
    assert r.messages == [] and r.deferred_codes == ["rotation-unknown"]
    assert r.deferred == ["Key 'r': enableKeyRotation is unknown during preview"]


@pytest.mark.parametrize(
    ("props", "code", "detail"),
    [
        (
            {"rotationPeriodInDays": UNKNOWN},
            "rotation-period-unknown",
            "rotationPeriodInDays is unknown during preview",
        ),
        (
            {"customerMasterKeySpec": UNKNOWN},
            "key-spec-unknown",
            "key spec or usage is unknown during preview",
        ),
    ],
)
def test_unknown_period_or_spec_is_deferred(props, code, detail):
    r = run_rule(rotation, resource_args(AwsType.KMS_KEY, key_props(**props)))
    assert r.found == [] and r.deferred_codes == [code]
    assert r.deferred == [f"Key 'r': {detail}"]
