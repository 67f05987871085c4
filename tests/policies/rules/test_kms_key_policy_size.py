"""kms-key-policy-size: AWS's 32 KB key policy limit, on keys and KeyPolicy resources."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmsguard.contract import AwsType
from policies.rules import kms_key_policy_size as rule
from tests.policies.helpers import good_key_policy, key_props, resource_args, run_rule

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def _padded(total: int) -> str:
    """The baseline policy grown to exactly `total` bytes with a long Sid."""
    doc: dict[str, Any] = good_key_policy()
    doc["Statement"][0]["Sid"] = ""
    base = len(json.dumps(doc).encode("utf-8"))
    doc["Statement"][0]["Sid"] = "S" * (total - base)
    text = json.dumps(doc)
    assert len(text.encode("utf-8")) == total
    return text


def _run(rtype: str, policy: Any) -> Any:
    props = (
        key_props(policy=policy) if rtype == AwsType.KMS_KEY else {"keyId": "k", "policy": policy}
    )
    return run_rule(rule, resource_args(rtype, props))


@pytest.mark.parametrize("rtype", [AwsType.KMS_KEY, AwsType.KMS_KEY_POLICY])
def test_baseline_and_exactly_32_kb_pass(rtype: str) -> None:
    assert _run(rtype, json.dumps(good_key_policy())).messages == []
    assert _run(rtype, _padded(32_768)).messages == []


@pytest.mark.parametrize("rtype", [AwsType.KMS_KEY, AwsType.KMS_KEY_POLICY])
def test_one_byte_over_fails(rtype: str) -> None:
    r = _run(rtype, _padded(32_769))
    [f] = r.found
    assert (f.code, f.witness) == ("key-policy-too-large", {"bytes": 32_769, "limit": 32_768})
    name = "Key" if rtype == AwsType.KMS_KEY else "KeyPolicy"
    assert r.texts == [
        f"{name} 'r': the key policy is 32,769 bytes, over AWS's limit of 32,768 bytes (32 KB)"
    ]


def test_bytes_not_characters_are_counted() -> None:
    doc = good_key_policy()
    doc["Statement"][0]["Sid"] = "é" * 17_000  # 17,000 characters, 34,000 bytes
    [f] = _run(AwsType.KMS_KEY, json.dumps(doc, ensure_ascii=False)).found
    assert f.code == "key-policy-too-large" and f.witness["bytes"] > 34_000


def test_unknown_policy_is_deferred() -> None:
    r = _run(AwsType.KMS_KEY, UNKNOWN)
    assert r.messages == [] and r.deferred_codes == ["key-policy-unknown"]
    assert r.deferred == ["Key 'r': the key policy is unknown during preview"]
