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
    ("policy", "code", "detail"),
    [
        ("{not json", "key-policy-unreadable", None),
        ("[1, 2]", "key-policy-unreadable", None),
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "kms:Decrypt"}],
                }
            ),
            "key-policy-malformed",
            None,
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
            "unknown-action",
            None,
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
            "allow-with-not-principal",
            "statement #4 is an Allow with NotPrincipal, which grants the key to everyone "
            "not listed",
        ),
    ],
)
def test_policy_valid_violations(policy, code, detail):
    r = run_rule(valid, resource_args(AwsType.KMS_KEY, key_props(policy=policy)))
    assert r.codes == [code], r.texts
    [f] = r.found
    assert f.rule == "kms-key-policy-valid" and f.resource == "Key 'r'"
    assert r.texts == [f"Key 'r': {f.detail}"]
    if detail is not None:
        assert f.detail == detail


def test_a_malformed_policy_names_where_and_what():
    policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "kms:Decrypt"}]}
    )
    [f] = run_rule(valid, resource_args(AwsType.KMS_KEY, key_props(policy=policy))).found
    assert f.code == "key-policy-malformed"
    assert f.detail == f"malformed key policy at {f.witness['path']}: {f.witness['problem']}"
    assert f.witness["path"].startswith("Statement[0]")


def test_unreadable_policy_says_what_is_wrong():
    r = run_rule(valid, resource_args(AwsType.KMS_KEY, key_props(policy="{not json")))
    assert "not valid JSON" in r.found[0].detail


def test_policy_valid_names_the_closest_real_action_of_a_typo():
    policy = with_statement(
        {"Effect": "Allow", "Principal": {"AWS": USER}, "Action": ["kms:Decrpt"], "Resource": "*"}
    )
    r = run_rule(valid, resource_args(AwsType.KMS_KEY, key_props(policy=policy)))
    [text] = r.texts
    [f] = r.found
    assert f.code == "unknown-action" and f.witness["notes"] == [text.removeprefix("Key 'r': ")]
    assert "Statement[4].Action[0]: 'kms:Decrpt' matches no action in the IAM catalog" in text
    assert "(closest: kms:Decrypt" in text


def test_policy_unknown_is_deferred():
    r = run_rule(valid, resource_args(AwsType.KMS_KEY, key_props(policy=UNKNOWN)))
    assert r.messages == [] and r.deferred_codes == ["key-policy-unknown"]
    assert r.deferred == ["Key 'r': the key policy is unknown during preview"]
