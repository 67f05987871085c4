"""kms-key-policy-declared: a key without a policy in the stack gets AWS's default one."""

from __future__ import annotations

import json

from kmsguard.contract import AwsType
from policies.rules import kms_key_policy_declared as rule
from tests.policies.helpers import KEY_ARN, Res, good_key_policy, key_props, run_rule, stack_args

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def _key(**over: object) -> Res:
    return Res(AwsType.KMS_KEY, "key", {**key_props(**over), "arn": KEY_ARN})


def test_baseline_inline_policy_passes() -> None:
    r = run_rule(rule, stack_args([_key()]))
    assert r.messages == [] and r.deferred == []


def test_no_policy_anywhere_is_reported() -> None:
    k = _key(policy=None)
    r = run_rule(rule, stack_args([k]))
    [f] = r.found
    assert (f.rule, f.code, f.resource, f.urn) == (
        "kms-key-policy-declared",
        "key-policy-not-declared",
        "Key 'key'",
        k.urn,
    )
    assert r.messages == [
        (
            "Key 'key': no key policy is declared, so AWS applies its default key policy (the "
            "account root gets kms:*; access is decided by IAM policies alone)",
            k.urn,
        )
    ]


def test_a_key_policy_resource_counts_as_declared() -> None:
    k = _key(policy=None)
    kp = Res(
        AwsType.KMS_KEY_POLICY,
        "kp",
        {"keyId": KEY_ARN, "policy": json.dumps(good_key_policy())},
        keyId=[k.urn],
    )
    assert run_rule(rule, stack_args([k, kp])).messages == []


def test_an_unknown_policy_is_declared_during_preview() -> None:
    assert run_rule(rule, stack_args([_key(policy=UNKNOWN)])).messages == []


def test_enforcement_is_advisory_unless_configured() -> None:
    assert rule.META.enforcement_level.value == "advisory"
