"""The stack's keys: every identifier a key goes by, and what a table or a KeyPolicy names."""

from __future__ import annotations

import json

from kmsguard.contract import AwsType
from policies.stack.graph import StackView
from policies.stack.keys import stack_keys
from tests.policies.helpers import KEY_ARN, Res, key_props, stack_args

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
KEY = Res(AwsType.KMS_KEY, "key", {**key_props(), "arn": KEY_ARN, "keyId": "1111-2222"})
ALIAS = Res(
    AwsType.KMS_ALIAS,
    "alias",
    {"name": "alias/data", "arn": "arn:aws:kms:us-east-1:123456789012:alias/data"},
    targetKeyId=[KEY.urn],
)


def table(kms_key_arn: str | None, **deps: list[str]) -> Res:
    sse = {"enabled": True, **({"kmsKeyArn": kms_key_arn} if kms_key_arn is not None else {})}
    return Res(AwsType.DYNAMODB_TABLE, "table", {"serverSideEncryption": sse}, **deps)


def view(*items: Res) -> StackView:
    return StackView(stack_args(list(items)).resources)


def test_a_key_goes_by_its_arn_id_and_its_aliases() -> None:
    v = view(KEY, ALIAS)
    [key] = v.of_type(AwsType.KMS_KEY)
    assert stack_keys(v).key_identifiers(key) == {
        KEY_ARN,
        "1111-2222",
        "alias/data",
        "arn:aws:kms:us-east-1:123456789012:alias/data",
    }


def test_a_table_names_its_key_by_any_identifier_or_by_dependency() -> None:
    by_alias = view(KEY, ALIAS, table("alias/data"))
    ref = stack_keys(by_alias).table_key(by_alias.of_type(AwsType.DYNAMODB_TABLE)[0])
    assert ref.node is not None and ref.node.urn == KEY.urn and ref.via == "value"
    pending = view(KEY, ALIAS, table(UNKNOWN, serverSideEncryption=[ALIAS.urn]))
    ref = stack_keys(pending).table_key(pending.of_type(AwsType.DYNAMODB_TABLE)[0])
    assert ref.node is not None and ref.node.urn == KEY.urn
    assert ref.via == "property dependency on an alias"


def test_a_table_without_a_key_or_with_one_outside_the_stack_has_no_key_node() -> None:
    # A decoy: the value only resembles the stack key's ARN.
    outside = KEY_ARN.replace("1111-2222", "1111-2222 ")
    for kms_key_arn, value in ((None, None), ("", None), (outside, outside)):
        v = view(KEY, table(kms_key_arn))
        ref = stack_keys(v).table_key(v.of_type(AwsType.DYNAMODB_TABLE)[0])
        assert (ref.node, ref.value) == (None, value)


def test_a_key_policy_resource_comes_before_the_inline_policy_and_none_means_the_default() -> None:
    doc = {"Version": "2012-10-17", "Statement": []}
    kp = Res(
        AwsType.KMS_KEY_POLICY,
        "kp",
        {"keyId": "1111-2222", "policy": json.dumps(doc)},
    )
    v = view(KEY, kp)
    [key] = v.of_type(AwsType.KMS_KEY)
    assert [origin for _, origin in stack_keys(v).key_policies(key)] == [
        "KeyPolicy kp",
        "inline policy",
    ]
    bare = Res(AwsType.KMS_KEY, "bare", {"arn": KEY_ARN})
    v = view(bare)
    assert stack_keys(v).key_policies(v.of_type(AwsType.KMS_KEY)[0]) == [
        (None, "AWS default key policy")
    ]


def test_the_keys_are_indexed_once_per_view() -> None:
    v = view(KEY, ALIAS)
    [key] = v.of_type(AwsType.KMS_KEY)
    first = stack_keys(v)
    first.key_identifiers(key)
    # Every rule asking later reads the same index, aliases included, and builds nothing.
    assert stack_keys(v)._idx is first._idx and first._idx.full is not None
