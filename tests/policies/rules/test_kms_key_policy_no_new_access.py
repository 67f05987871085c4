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
    assert r.codes and set(r.codes) == {"new-access"}
    assert USER in {f.witness["principal"] for f in r.found}
    assert r.texts == [f"Key 'r': {f.detail}" for f in r.found]


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
    f = r.found[0]
    assert (f.rule, f.code, f.resource) == ("kms-key-policy-no-new-access", "new-access", "Key 'r'")
    assert f.witness["principal"].startswith("arn:aws:iam::444455556666:")
    assert "kms:Decrypt" in f.witness["actions"] and f.witness["why"]
    assert f.detail.startswith(
        f"grants what the baseline key policy does not: {f.witness['principal']} may"
    )


def test_bad_baseline_is_one_clear_message() -> None:
    r = _run(
        good_key_policy(), config={"baselineKeyPolicy": '{"Statement": [{"Effect": "Maybe"}]}'}
    )
    [f] = r.found
    assert (f.code, f.resource) == ("baseline-unreadable", "policy config baselineKeyPolicy")
    assert r.texts[0].startswith("policy config baselineKeyPolicy: Statement[0].Effect")
    assert r.texts[0].endswith("; it must be a key policy document as JSON text")


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
    assert r.messages == [] and r.deferred_codes == ["prover-unanswered"]
    reason = r.deferred_found[0].witness["reason"]
    assert r.deferred == [f"Key 'r': prover query no_new_access unanswered: {reason}"]


def test_an_unknown_policy_is_deferred() -> None:
    props = key_props(policy="04da6b54-80e4-46f7-96ec-b56ff0331ba9")
    r = run_rule(rule, resource_args(AwsType.KMS_KEY, props, {"baselineKeyPolicy": BASELINE}))
    assert r.messages == [] and r.deferred_codes == ["key-policy-unknown"]
    assert r.deferred == ["Key 'r': the key policy is unknown during preview"]
