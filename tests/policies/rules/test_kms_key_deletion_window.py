"""kms-key-deletion-window: the window at least the minimum (one property per case)."""

from __future__ import annotations

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE as UNKNOWN

from kmsguard.contract import AwsType
from policies.rules import kms_key_deletion_window as deletion_window
from tests.policies.helpers import key_props, resource_args, run_rule


def test_baseline_compliant_key_passes():
    r = run_rule(deletion_window, resource_args(AwsType.KMS_KEY, key_props()))
    assert r.messages == [] and r.deferred == []


def test_key_policy_resource_form_is_understood():
    props = {"keyId": "k", "policy": key_props()["policy"]}
    assert run_rule(deletion_window, resource_args(AwsType.KMS_KEY_POLICY, props)).messages == []


@pytest.mark.parametrize(
    ("window", "config", "code", "witness", "text"),
    [
        (
            7,
            None,
            "deletion-window-below-minimum",
            {"days": 7, "minimum": 30},
            "deletion window is 7 days, below the minimum of 30",
        ),
        (
            20,
            {"minDeletionWindowDays": 25},
            "deletion-window-below-minimum",
            {"days": 20, "minimum": 25},
            "deletion window is 20 days, below the minimum of 25",
        ),
        (
            "x",
            None,
            "deletion-window-not-a-number",
            {"value": "'x'"},
            "deletionWindowInDays 'x' is not a number of days",
        ),
        (
            45,
            None,
            "deletion-window-outside-aws-range",
            {"days": 45, "allowed": [7, 30]},
            "deletion window 45 is outside AWS's 7-30 days",
        ),
    ],
)
def test_deletion_window_violations(window, config, code, witness, text):
    r = run_rule(
        deletion_window,
        resource_args(AwsType.KMS_KEY, key_props(deletionWindowInDays=window), config),
    )
    [f] = r.found
    assert (f.rule, f.code, f.resource, f.witness) == (
        "kms-key-deletion-window",
        code,
        "Key 'r'",
        witness,
    )
    # The diagnostic is the finding rendered: the resource, then the detail.
    assert f.detail == text and r.texts == [f"Key 'r': {text}"]


def test_unknown_window_defers():
    props = key_props(deletionWindowInDays=UNKNOWN)
    r = run_rule(deletion_window, resource_args(AwsType.KMS_KEY, props))
    assert r.found == [] and r.deferred_codes == ["deletion-window-unknown"]
    assert r.deferred == ["Key 'r': deletionWindowInDays is unknown during preview"]


def test_deletion_window_default_is_aws_default():
    assert (
        run_rule(
            deletion_window, resource_args(AwsType.KMS_KEY, key_props(deletionWindowInDays=None))
        ).messages
        == []
    )
