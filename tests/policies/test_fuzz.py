"""Fuzzed and malformed properties never crash a rule or the analyzer."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi_policy import StackValidationArgs, StackValidationPolicy

from kmsguard.contract import AwsType
from kmsguard.preview.analyzer import PolicyPackClient
from kmsguard.preview.collect import RegisteredResource
from policies.meta import Deferred
from policies.rules import MODULES
from tests.budgets import examples
from tests.policies.helpers import Res, resource_args, stack_args

UNKNOWNS = [
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
]
TYPES = [v for k, v in vars(AwsType).items() if k.isupper()]
KEYS = [
    "policy",
    "serverSideEncryption",
    "kmsKeyArn",
    "enabled",
    "Statement",
    "Effect",
    "Principal",
    "AWS",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "NotPrincipal",
    "enableKeyRotation",
    "rotationPeriodInDays",
    "deletionWindowInDays",
    "keyUsage",
    "customerMasterKeySpec",
    "isEnabled",
    "bypassPolicyLockoutSafetyCheck",
    "policyArn",
    "user",
    "inlinePolicies",
    "managedPolicyArns",
    "pointInTimeRecovery",
    "deletionProtectionEnabled",
    "arn",
    "name",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            *UNKNOWNS,
            *("*", "kms:*", "kms:Decr*", "Allow", "Deny", "alias/aws/dynamodb", "{", "[]"),
            *("arn:aws:iam::aws:policy/AdministratorAccess", "SYMMETRIC_DEFAULT"),
        ]
    ),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)
    ),
    max_leaves=20,
)
as_json_policy = st.dictionaries(st.sampled_from(KEYS), values, max_size=4).map(
    lambda d: json.dumps({"Version": "2012-10-17", "Statement": [d]})
)
props_strategy = st.dictionaries(
    st.sampled_from(KEYS), st.one_of(values, as_json_policy), max_size=8
)


def _run_all(args) -> None:
    stack = isinstance(args, StackValidationArgs)
    for module in MODULES:
        if isinstance(module.POLICY, StackValidationPolicy) != stack:
            continue
        try:
            module.validate(args, lambda msg, urn=None: None)
        except Deferred:
            pass
        except Exception as exc:  # the SDK raises UnknownValueError itself on proxy reads
            from pulumi_policy.proxy import UnknownValueError

            if not isinstance(exc, UnknownValueError):
                raise


# The examples are drawn in shards (in the ci profile 3 x 1,000 and 2 x 500: 3,000 and 1,000 in
# total) so that parallel test workers share them; drawing them is most of the cost.
@pytest.mark.parametrize("shard", range(3))
@settings(max_examples=examples(10), suppress_health_check=list(HealthCheck))
@given(
    rtype=st.sampled_from(TYPES),
    props=props_strategy,
    config=st.dictionaries(
        st.sampled_from(
            ["maxRotationPeriodDays", "allowedKeyUsers", "minDeletionWindowDays", "accountId"]
        ),
        values,
        max_size=2,
    ),
)
def test_rules_never_crash_on_fuzzed_resources(shard, rtype, props, config):
    _run_all(resource_args(rtype, props, config))


@pytest.mark.parametrize("shard", range(2))
@settings(max_examples=examples(5), suppress_health_check=list(HealthCheck))
@given(items=st.lists(st.tuples(st.sampled_from(TYPES), props_strategy), max_size=5))
def test_stack_rules_never_crash_on_fuzzed_stacks(shard, items):
    res = [Res(t, f"r{i}", p) for i, (t, p) in enumerate(items)]
    for i, r in enumerate(res[1:], 1):
        r.deps = {"serverSideEncryption": [res[i - 1].urn], "user": [res[0].urn]}
    _run_all(stack_args(res))


def test_analyzer_survives_fuzzed_properties_over_grpc():
    @settings(max_examples=examples(2), suppress_health_check=list(HealthCheck))
    @given(rtype=st.sampled_from(TYPES), props=props_strategy)
    def check(client, rtype, props):
        props = json.loads(json.dumps(props))  # the Struct carries JSON values only
        r = RegisteredResource(
            rtype, f"urn:pulumi:dev::kmsguard::{rtype}::x", "x", True, "", "", [], {}, props, props
        )
        client.analyze(r)
        client.analyze_stack([r])

    with PolicyPackClient() as client:
        check(client)
        assert client.info().name == "kmsguard-policies"  # still serving
