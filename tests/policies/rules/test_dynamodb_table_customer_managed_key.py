"""dynamodb-table-customer-managed-key: every form of kmsKeyArn beside a key in the stack."""

from __future__ import annotations

from typing import Any

import pytest

from kmsguard.access.arn import is_reserved_alias
from kmsguard.contract import AwsType
from policies.rules import dynamodb_table_customer_managed_key as rule
from tests.access.docs import row
from tests.policies.helpers import ACCOUNT, KEY_ARN, Res, key_props, run_rule, stack_args

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown sentinel


def _key(arn: str = KEY_ARN) -> Res:
    return Res(AwsType.KMS_KEY, "key", {**key_props(), "arn": arn})


def _alias(target: Res, name: str = "alias/orders") -> Res:
    return Res(
        AwsType.KMS_ALIAS, "alias", {"name": name, "targetKeyId": "k-1"}, targetKeyId=[target.urn]
    )


def _table(sse: dict[str, Any], *depends_on: Res) -> Res:
    deps = {"serverSideEncryption": [d.urn for d in depends_on]} if depends_on else {}
    return Res(AwsType.DYNAMODB_TABLE, "table", {"serverSideEncryption": sse}, **deps)


def _run(*items: Res) -> Any:
    return run_rule(rule, stack_args(list(items)))


def test_baseline_the_stack_key_by_its_unknown_arn_passes() -> None:
    k = _key(UNKNOWN)
    r = _run(k, _table({"enabled": True, "kmsKeyArn": UNKNOWN}, k))
    assert r.messages == [] and r.deferred == []


@pytest.mark.parametrize(
    ("sse", "expected"),
    [
        ({"enabled": True}, "no kmsKeyArn"),  # absent
        ({"enabled": True, "kmsKeyArn": ""}, "no kmsKeyArn"),  # empty
        ({"enabled": True, "kmsKeyArn": None}, "no kmsKeyArn"),  # explicitly null
    ],
)
def test_a_known_absent_key_is_the_aws_managed_key_despite_a_dependency_on_the_key(
    sse: dict[str, Any], expected: str
) -> None:
    # The reported false pass: the serverSideEncryption block depends on the stack's key (for
    # instance through a conditional expression), yet names no key.
    k = _key(UNKNOWN)
    t = _table(sse, k)
    r = _run(k, t)
    [f] = r.found
    assert (f.rule, f.code, f.resource, f.witness, f.urn) == (
        "dynamodb-table-customer-managed-key",
        "aws-managed-key",
        "Table 'table'",
        {"kmsKeyArn": None},
        t.urn,
    )
    assert r.messages == [
        (
            "Table 'table': no kmsKeyArn, so DynamoDB uses the AWS managed key alias/aws/dynamodb",
            t.urn,
        )
    ]
    assert expected in f.detail


def test_unknown_without_a_dependency_on_a_key_is_deferred() -> None:
    r = _run(_key(UNKNOWN), _table({"enabled": True, "kmsKeyArn": UNKNOWN}))
    assert r.messages == [] and r.deferred_codes == ["key-unknown"]


def test_unknown_through_an_alias_of_the_stack_key_passes() -> None:
    k = _key(UNKNOWN)
    a = _alias(k)
    r = _run(k, a, _table({"enabled": True, "kmsKeyArn": UNKNOWN}, a))
    assert r.messages == [] and r.deferred == []


def test_an_alias_name_of_the_stack_key_passes() -> None:
    k = _key()
    r = _run(k, _alias(k), _table({"enabled": True, "kmsKeyArn": "alias/orders"}, k))
    assert r.messages == [] and r.deferred == []


def test_an_alias_outside_the_stack_is_deferred_not_passed() -> None:
    k = _key()
    r = _run(k, _table({"enabled": True, "kmsKeyArn": "alias/elsewhere"}, k))
    assert r.messages == [] and r.deferred_codes == ["key-outside-stack"]
    assert r.deferred_found[0].witness == {"kmsKeyArn": "alias/elsewhere"}
    assert r.deferred == [
        "Table 'table': key 'alias/elsewhere' is not declared in this stack; whether it is "
        "customer managed is checked against the deployed key"
    ]


@pytest.mark.parametrize(
    "value",
    [
        "alias/aws/dynamodb",
        f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/aws/dynamodb",
        f"arn:aws-cn:kms:cn-north-1:{ACCOUNT}:alias/aws/dynamodb",
    ],
)
def test_an_aws_alias_fails_even_with_a_dependency_on_the_key(value: str) -> None:
    k = _key()
    r = _run(k, _table({"enabled": True, "kmsKeyArn": value}, k))
    assert r.codes == ["aws-managed-key"] and r.found[0].witness == {"kmsKeyArn": value}
    assert r.texts == [f"Table 'table': kmsKeyArn {value!r} is an AWS managed key"]


@pytest.mark.parametrize(
    "value",
    [
        "alias/AWS/dynamodb",
        "ALIAS/AWS/DYNAMODB",
        f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/Aws/dynamodb",
    ],
)
def test_the_reserved_prefix_is_compared_as_written_like_the_evaluator(value: str) -> None:
    row("alias-reserved")
    assert not is_reserved_alias(value)
    k = _key()
    r = _run(k, _table({"enabled": True, "kmsKeyArn": value}, k))
    # Not an AWS managed key by its name: a key outside the stack, checked when deployed.
    assert r.codes == [] and r.deferred_codes == ["key-outside-stack"]
    assert r.deferred_found[0].witness == {"kmsKeyArn": value}


def test_a_mixed_case_alias_of_the_stack_key_is_the_stack_key() -> None:
    row("alias-reserved")
    k = _key()
    mine = _alias(k, name="alias/AWS/orders")
    r = _run(k, mine, _table({"enabled": True, "kmsKeyArn": "alias/AWS/orders"}, mine))
    assert r.messages == [] and r.deferred == []


def test_a_replica_with_a_mixed_case_alias_is_not_an_aws_managed_key() -> None:
    row("alias-reserved")
    table = Res(
        AwsType.DYNAMODB_TABLE,
        "table",
        {
            "serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY_ARN},
            "replicas": [
                {"regionName": "eu-west-1", "kmsKeyArn": "alias/AWS/dynamodb"},
                {"regionName": "eu-west-2", "kmsKeyArn": "alias/aws/dynamodb"},
            ],
        },
    )
    r = _run(_key(), table)
    assert [f.witness for f in r.found] == [
        {"replica": "eu-west-2", "kmsKeyArn": "alias/aws/dynamodb"}
    ]


def test_an_aws_alias_declared_in_the_stack_is_still_an_aws_managed_key() -> None:
    k = _key()
    fake = _alias(k, name="alias/aws/dynamodb")
    r = _run(k, fake, _table({"enabled": True, "kmsKeyArn": "alias/aws/dynamodb"}, fake))
    assert r.codes == ["aws-managed-key"], r.texts


# --- aws.dynamodb.TableReplica ------------------------------------------------------------------


def _replica(props: dict[str, Any], *depends_on: Res) -> Res:
    deps = {"kmsKeyArn": [d.urn for d in depends_on]} if depends_on else {}
    base = {"globalTableArn": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"}
    return Res(AwsType.DYNAMODB_TABLE_REPLICA, "replica", {**base, **props}, **deps)


def test_replica_baseline_with_the_stack_key_passes() -> None:
    k = _key(UNKNOWN)
    r = _run(k, _replica({"kmsKeyArn": UNKNOWN}, k))
    assert r.messages == [] and r.deferred == []


@pytest.mark.parametrize(
    ("props", "code", "expected"),
    [
        ({}, "aws-managed-key", "TableReplica 'replica': no kmsKeyArn"),
        ({"kmsKeyArn": ""}, "aws-managed-key", "TableReplica 'replica': no kmsKeyArn"),
        ({"kmsKeyArn": "alias/aws/dynamodb"}, "aws-managed-key", "is an AWS managed key"),
        (
            {"kmsKeyArn": "arn:aws:kms:eu-west-1:999999999999:key/x"},
            "cross-account-key",
            "belongs to account",
        ),
    ],
)
def test_replica_without_a_customer_managed_key_fails(
    props: dict[str, Any], code: str, expected: str
) -> None:
    k = _key(UNKNOWN)
    rep = _replica(props, k)
    r = _run(k, rep)
    [f] = r.found
    assert (f.code, f.resource, f.urn) == (code, "TableReplica 'replica'", rep.urn)
    assert r.texts == [f"TableReplica 'replica': {f.detail}"] and expected in r.texts[0]


def test_replica_key_unknown_without_a_dependency_is_deferred() -> None:
    r = _run(_replica({"kmsKeyArn": UNKNOWN}))
    assert r.messages == [] and r.deferred_codes == ["key-unknown"]


def stack_key(**over):
    return Res(AwsType.KMS_KEY, "key", {**key_props(**over), "arn": over.get("arn", KEY_ARN)})


def table(sse, deps=None):
    return Res(
        AwsType.DYNAMODB_TABLE,
        "table",
        {"serverSideEncryption": sse},
        **({"serverSideEncryption": deps} if deps else {}),
    )


def test_cmk_baseline_by_value_and_by_dependency():
    k = stack_key()
    assert (
        run_rule(rule, stack_args([k, table({"enabled": True, "kmsKeyArn": KEY_ARN})])).messages
        == []
    )
    k2 = stack_key(arn=UNKNOWN)
    r = run_rule(rule, stack_args([k2, table({"enabled": True, "kmsKeyArn": UNKNOWN}, [k2.urn])]))
    assert r.messages == [] and r.deferred == []


def test_cmk_alias_in_stack_counts():
    k = stack_key()
    alias = Res(
        AwsType.KMS_ALIAS,
        "alias",
        {"name": "alias/orders", "targetKeyId": "k-1"},
        targetKeyId=[k.urn],
    )
    assert (
        run_rule(
            rule, stack_args([k, alias, table({"enabled": True, "kmsKeyArn": "alias/orders"})])
        ).messages
        == []
    )


def test_cmk_violations():
    cases = [
        ("sse-disabled", {"enabled": False}),
        ("aws-managed-key", {"enabled": True}),
        ("aws-managed-key", {"enabled": True, "kmsKeyArn": "alias/aws/dynamodb"}),
        (
            "aws-managed-key",
            {
                "enabled": True,
                "kmsKeyArn": f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/aws/dynamodb",
            },
        ),
        (
            "cross-account-key",
            {"enabled": True, "kmsKeyArn": "arn:aws:kms:us-east-1:999999999999:key/abc"},
        ),
    ]
    for code, sse in cases:
        r = run_rule(rule, stack_args([stack_key(), table(sse)]))
        assert r.codes == [code], (code, r.texts)
        assert r.texts == [f"Table 'table': {r.found[0].detail}"]
    r = run_rule(rule, stack_args([table(None)]))
    assert r.codes == ["sse-disabled"]
    assert r.texts == [
        "Table 'table': server-side encryption is not enabled, so DynamoDB uses an AWS owned key"
    ]


def test_cmk_cross_account_key_names_both_accounts():
    other = "arn:aws:kms:us-east-1:999999999999:key/abc"
    r = run_rule(rule, stack_args([stack_key(), table({"enabled": True, "kmsKeyArn": other})]))
    [f] = r.found
    assert f.witness == {"kmsKeyArn": other, "keyAccount": "999999999999", "stackAccount": ACCOUNT}
    assert f.detail == (
        f"kmsKeyArn {other!r} belongs to account 999999999999, not {ACCOUNT}, and is not in "
        "allowedCrossAccountKeyArns"
    )


def test_cmk_unknown_sse_and_replicas_defer():
    r = run_rule(rule, stack_args([table({"enabled": UNKNOWN})]))
    assert r.messages == [] and r.deferred_codes == ["sse-unknown"]
    assert r.deferred == ["Table 'table': serverSideEncryption.enabled is unknown during preview"]
    t = Res(
        AwsType.DYNAMODB_TABLE,
        "table",
        {"serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY_ARN}, "replicas": UNKNOWN},
    )
    r = run_rule(rule, stack_args([stack_key(), t]))
    assert r.messages == [] and r.deferred_codes == ["replicas-unknown"]
    assert r.deferred == ["Table 'table': replicas are unknown during preview"]


def test_cmk_cross_account_allow_list():
    other = "arn:aws:kms:us-east-1:999999999999:key/abc"
    r = run_rule(
        rule,
        stack_args(
            [stack_key(), table({"enabled": True, "kmsKeyArn": other})],
            {"allowedCrossAccountKeyArns": [other]},
        ),
    )
    assert r.messages == []


def test_cmk_unknown_without_dependency_is_deferred():
    r = run_rule(rule, stack_args([table({"enabled": True, "kmsKeyArn": UNKNOWN})]))
    assert r.messages == [] and r.deferred_codes == ["key-unknown"]
    assert r.deferred == [
        "Table 'table': kmsKeyArn is unknown during preview and depends on no aws:kms/key:Key "
        "in the stack"
    ]


def test_cmk_replica_without_its_own_key():
    t = Res(
        AwsType.DYNAMODB_TABLE,
        "table",
        {
            "serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY_ARN},
            "replicas": [{"regionName": "us-west-2"}],
        },
    )
    r = run_rule(rule, stack_args([stack_key(), t]))
    [f] = r.found
    assert (f.code, f.witness, f.urn) == (
        "aws-managed-key",
        {"replica": "us-west-2", "kmsKeyArn": None},
        t.urn,
    )
    assert r.texts == [
        "Table 'table': replica in us-west-2 has no kmsKeyArn, so it uses the AWS managed key "
        "alias/aws/dynamodb"
    ]
    other = "arn:aws:kms:us-west-2:123456789012:key/2"
    t.props["replicas"][0]["kmsKeyArn"] = other
    assert run_rule(rule, stack_args([stack_key(), t])).messages == []


def test_cmk_enabled_without_arn_and_unknown_without_dependency():
    assert (
        "uses the AWS managed key"
        in run_rule(
            rule, stack_args([stack_key(), table({"enabled": True, "kmsKeyArn": ""})])
        ).texts[0]
    )
