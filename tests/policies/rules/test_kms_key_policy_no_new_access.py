"""kms-key-policy-no-new-access: the compliant key policy as its own baseline, one change a case."""

from __future__ import annotations

import json
from typing import Any

from kmsguard.contract import AwsType
from policies.rules import kms_key_policy_no_new_access as rule
from tests.policies.helpers import USER, good_key_policy, key_props, resource_args, run_rule

BASELINE = json.dumps(good_key_policy())


def _run(doc: dict[str, Any], config: dict[str, Any] | None = None) -> Any:
    cfg = {"baselineKeyPolicy": BASELINE} if config is None else config
    return run_rule(rule, resource_args(AwsType.KMS_KEY, key_props(policy=json.dumps(doc)), cfg))


def _with(statement: dict[str, Any]) -> dict[str, Any]:
    doc = good_key_policy()
    doc["Statement"].append(statement)
    return doc


def test_the_baseline_itself_passes() -> None:
    r = _run(good_key_policy())
    assert r.messages == [] and r.deferred == []


def test_rule_is_advisory_and_off_without_a_baseline() -> None:
    assert rule.META.enforcement_level.value == "advisory"
    wide = _with({"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"})
    assert _run(wide, config={}).messages == []


def test_reordered_statements_grant_nothing_new() -> None:
    doc = good_key_policy()
    doc["Statement"].reverse()
    assert _run(doc).messages == []


def test_removing_a_statement_grants_nothing_new() -> None:
    doc = good_key_policy()
    doc["Statement"] = doc["Statement"][:-1]
    assert _run(doc).messages == []


def test_dropping_the_via_service_condition_is_new_access_with_a_witness() -> None:
    doc = good_key_policy()
    for st in doc["Statement"]:
        st.pop("Condition", None)
    r = _run(doc)
    assert r.messages and any(f"{USER} may" in t for t in r.texts)


def test_another_account_is_new_access() -> None:
    other = "arn:aws:iam::444455556666:root"
    r = _run(
        _with(
            {
                "Effect": "Allow",
                "Principal": {"AWS": other},
                "Action": "kms:Decrypt",
                "Resource": "*",
            }
        )
    )
    assert r.messages and "444455556666" in r.texts[0] and "kms:Decrypt" in r.texts[0]


def test_bad_baseline_is_one_clear_message() -> None:
    r = _run(
        good_key_policy(), config={"baselineKeyPolicy": '{"Statement": [{"Effect": "Maybe"}]}'}
    )
    assert len(r.messages) == 1
    assert r.texts[0].startswith("policy config baselineKeyPolicy: Statement[0].Effect")


def test_a_query_over_its_time_limit_is_an_advisory_naming_the_query() -> None:
    doc = good_key_policy()
    doc["Statement"] += [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::*:role/t{i}-*-x"}},
        }
        for i in range(40)
    ]
    r = _run(doc, config={"baselineKeyPolicy": BASELINE, "proverTimeoutSeconds": 0.001})
    assert r.messages == [] and "no_new_access" in r.deferred[0]
