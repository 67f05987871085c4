"""No rule turns an unknown key account into a foreign one, or into one a policy or stack names."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import StackValidationPolicy

from kmsguard.contract import AwsType
from policies.rules import MODULES
from policies.stack.graph import StackView
from policies.stack.keys import stack_keys
from tests.policies.helpers import (
    ACCOUNT,
    KEY_ARN,
    PROVIDER_PROPS,
    Res,
    good_key_policy,
    key_props,
    resource_args,
    run_rule,
    stack_args,
)

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def _stack(provider_props: dict[str, Any] | None) -> Any:
    # The program's shape during preview: the key's and the user's ARNs unknown.
    key = Res(AwsType.KMS_KEY, "key", {**key_props(), "arn": UNKNOWN})
    table = Res(
        AwsType.DYNAMODB_TABLE,
        "table",
        {"serverSideEncryption": {"enabled": True, "kmsKeyArn": UNKNOWN}},
        serverSideEncryption=[key.urn],
    )
    return stack_args([key, table], provider_props=provider_props)


def _args(module: Any, provider_props: dict[str, Any] | None) -> Any:
    if isinstance(module.POLICY, StackValidationPolicy):
        return _stack(provider_props)
    return resource_args(AwsType.KMS_KEY, key_props(), provider_props=provider_props)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.META.name)
@pytest.mark.parametrize("provider_props", [None, PROVIDER_PROPS], ids=["unknown", "pinned"])
def test_the_compliant_baseline_has_no_violation_whatever_is_known(module, provider_props) -> None:
    r = run_rule(module, _args(module, provider_props))
    assert r.messages == [], r.texts
    # A placeholder never stands for the account in what is reported either.
    assert not any("000000000000" in d for d in r.deferred)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.META.name)
def test_an_unknown_account_defers_only_what_the_account_settles(module) -> None:
    pinned = run_rule(module, _args(module, PROVIDER_PROPS)).deferred
    unknown = run_rule(module, _args(module, None)).deferred
    added = [d for d in unknown if d not in pinned]
    assert all("allowedAccountIds" in d for d in added), added


def test_a_key_whose_account_is_unknown_is_not_given_the_account_its_baseline_names() -> None:
    # Private only in ACCOUNT, the account the baseline's root statement names: while the key's
    # account is unknown it may be any other, so the rule reports the access it then grants.
    import json

    from policies.rules import kms_key_policy_no_new_access as rule

    doc = good_key_policy()
    doc["Statement"].append(
        {
            "Sid": "EveryoneUnlessInAccount",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:ResourceAccount": ACCOUNT}},
        }
    )
    config = {"baselineKeyPolicy": json.dumps(good_key_policy())}

    def run(provider_props: dict[str, Any] | None) -> Any:
        props = key_props(policy=json.dumps(doc))
        return run_rule(
            rule, resource_args(AwsType.KMS_KEY, props, config, provider_props=provider_props)
        )

    assert run(PROVIDER_PROPS).messages == []
    unknown = run(None)
    assert unknown.messages and all("'EveryoneUnlessInAccount'" in t for t in unknown.texts)


def test_a_stack_key_account_is_its_arns_never_a_vote_over_the_stacks_other_arns() -> None:
    other = "444455556666"
    key = Res(AwsType.KMS_KEY, "key", {**key_props(), "arn": f"{KEY_ARN[: -len('1111-2222')]}k"})
    roles = [
        Res(AwsType.IAM_ROLE, f"r{i}", {"arn": f"arn:aws:iam::{other}:role/r{i}"}) for i in range(3)
    ]
    view = StackView(stack_args([key, *roles], provider_props=None).resources)
    assert view.account_id == ""  # the provider does not say: unknown, not the majority's
    [node] = view.of_type(AwsType.KMS_KEY)
    assert stack_keys(view).key_account(node) == ACCOUNT
    pinned = StackView(stack_args([key], provider_props={"allowedAccountIds": [other]}).resources)
    assert stack_keys(pinned).key_account(pinned.of_type(AwsType.KMS_KEY)[0]) == ACCOUNT
    unknown = Res(AwsType.KMS_KEY, "key", {**key_props(), "arn": UNKNOWN})
    view = StackView(stack_args([unknown, *roles], provider_props=None).resources)
    assert stack_keys(view).key_account(view.of_type(AwsType.KMS_KEY)[0]) == ""
