"""kms-key-deletion-window: the window at least the minimum (one property per case)."""

from __future__ import annotations

import pytest

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
    ("window", "config", "expected"),
    [
        (7, None, "7 days, below the minimum of 30"),
        (20, {"minDeletionWindowDays": 25}, "below the minimum of 25"),
        ("x", None, "not a number"),
    ],
)
def test_deletion_window_violations(window, config, expected):
    r = run_rule(
        deletion_window,
        resource_args(AwsType.KMS_KEY, key_props(deletionWindowInDays=window), config),
    )
    assert len(r.messages) == 1 and expected in r.texts[0]


def test_deletion_window_default_is_aws_default():
    assert (
        run_rule(
            deletion_window, resource_args(AwsType.KMS_KEY, key_props(deletionWindowInDays=None))
        ).messages
        == []
    )
