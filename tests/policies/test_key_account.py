"""No rule turns an unknown key account into a foreign one: it defers until the account is known."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import StackValidationPolicy

from kmsguard.contract import AwsType
from policies.rules import MODULES
from tests.policies.helpers import (
    PROVIDER_PROPS,
    Res,
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
