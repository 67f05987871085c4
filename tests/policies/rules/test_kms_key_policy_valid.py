"""kms-key-policy-valid: a key policy that parses and names real actions (one property per case)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmsguard.contract import AwsType
from policies.rules import kms_key_policy_valid as valid
from tests.policies.helpers import USER, good_key_policy, key_props, resource_args, run_rule

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def with_statement(extra: dict[str, Any]) -> str:
    doc = good_key_policy()
    doc["Statement"].append(extra)
    return json.dumps(doc)


def test_baseline_compliant_key_passes():
    r = run_rule(valid, resource_args(AwsType.KMS_KEY, key_props()))
    assert r.messages == [] and r.deferred == []


def test_key_policy_resource_form_is_understood():
    props = {"keyId": "k", "policy": key_props()["policy"]}
    assert run_rule(valid, resource_args(AwsType.KMS_KEY_POLICY, props)).messages == []


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "kms:Decrypt"}],
                }
            ),
            "malformed key policy",
        ),
        (
            with_statement(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": USER},
                    "Action": "kms:Decrpyt",
                    "Resource": "*",
                }
            ),
            "kms:Decrpyt",
        ),
        (
            with_statement(
                {
                    "Effect": "Allow",
                    "NotPrincipal": {"AWS": USER},
                    "Action": "kms:Decrypt",
                    "Resource": "*",
                }
            ),
            "NotPrincipal",
        ),
    ],
)
def test_policy_valid_violations(policy, expected):
    r = run_rule(valid, resource_args(AwsType.KMS_KEY, key_props(policy=policy)))
    assert r.messages and any(expected in t for t in r.texts), r.texts


def test_policy_valid_names_the_closest_real_action_of_a_typo():
    policy = with_statement(
        {"Effect": "Allow", "Principal": {"AWS": USER}, "Action": ["kms:Decrpt"], "Resource": "*"}
    )
    r = run_rule(valid, resource_args(AwsType.KMS_KEY, key_props(policy=policy)))
    [text] = r.texts
    assert "Statement[4].Action[0]: 'kms:Decrpt' matches no action in the IAM catalog" in text
    assert "(closest: kms:Decrypt" in text


def test_policy_unknown_is_deferred():
    r = run_rule(valid, resource_args(AwsType.KMS_KEY, key_props(policy=UNKNOWN)))
    assert r.messages == [] and "key policy is unknown" in r.deferred[0]
