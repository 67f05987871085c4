"""The demo's table policy: the engine applies and removes it, and a pack that lets it through
deploys it, which the deployed-state comparison sees."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from botocore.exceptions import ClientError

from demo.attempts import ATTEMPTS, OTHER_ACCOUNT, SHARED_TABLE_POLICY, sharing_policy
from demo.engine import SandboxEngine, StackState
from demo.flow import Demo
from kmsguard.contract import AwsType, ConfigKey
from kmsguard.preview.analyzer import PolicyPackClient
from sandbox import running

RULE = "dynamodb-table-readers-match-declared"


def _policy_of(ddb: Any, arn: str) -> dict[str, Any] | None:
    try:
        return json.loads(ddb.get_resource_policy(ResourceArn=arn)["Policy"])
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "PolicyNotFoundException", exc.response
        return None


def _table(ddb: Any, name: str) -> str:
    return str(
        ddb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )["TableDescription"]["TableArn"]
    )


def _args(inputs: dict[str, Any]) -> pulumi.runtime.MockResourceArgs:
    return pulumi.runtime.MockResourceArgs(
        typ=AwsType.DYNAMODB_RESOURCE_POLICY,
        name="p",
        inputs=inputs,
        provider=None,
        resource_id=None,
    )


def test_the_pack_names_the_resource_policy_type_as_the_contract_does() -> None:
    from policies.table_policies import RESOURCE_POLICY

    assert RESOURCE_POLICY == AwsType.DYNAMODB_RESOURCE_POLICY
    assert AwsType.DYNAMODB_RESOURCE_POLICY == "aws:dynamodb/resourcePolicy:ResourcePolicy"


def test_engine_puts_updates_moves_and_deletes_a_table_policy() -> None:
    with running() as sb:
        ddb = sb.client("dynamodb")
        first, second = _table(ddb, "t1"), _table(ddb, "t2")
        engine = SandboxEngine(sb.client, sb.region, StackState())

        resource_id, outputs = engine.new_resource(
            _args({"resourceArn": first, "policy": sharing_policy(first)})
        )
        assert resource_id == first and outputs["revisionId"]
        assert _policy_of(ddb, first) == json.loads(sharing_policy(first))

        # Same target, another document: replaced in place.
        narrower = json.loads(sharing_policy(first))
        narrower["Statement"][0]["Action"] = "dynamodb:GetItem"
        engine.new_resource(_args({"resourceArn": first, "policy": json.dumps(narrower)}))
        assert _policy_of(ddb, first) == narrower

        # Another target: the old table is left without it.
        engine.new_resource(_args({"resourceArn": second, "policy": sharing_policy(second)}))
        assert _policy_of(ddb, first) is None
        assert _policy_of(ddb, second) == json.loads(sharing_policy(second))
        assert [line.split(" (")[0] for line in engine.log] == [
            f"created {AwsType.DYNAMODB_RESOURCE_POLICY} p",
            f"updated {AwsType.DYNAMODB_RESOURCE_POLICY} p",
            f"updated {AwsType.DYNAMODB_RESOURCE_POLICY} p",
        ]

        assert engine.destroy() == [f"deleted {AwsType.DYNAMODB_RESOURCE_POLICY} p"]
        assert _policy_of(ddb, second) is None
        # Only the policy was the stack's: the tables stay.
        assert ddb.describe_table(TableName="t2")["Table"]["TableStatus"] == "ACTIVE"


@pytest.fixture(scope="module")
def trusting_attempt() -> tuple[Any, dict[str, Any], list[str]]:
    """The sharing attempt against a pack configured to trust the other account."""
    [share] = [a for a in ATTEMPTS if a[3] == RULE]
    with running() as sb, PolicyPackClient(preview=True, stack="sandbox") as pack:
        pack.configure({RULE: {"trustedAccounts": [OTHER_ACCOUNT]}})
        demo = Demo(sb, lambda _: None)
        demo.program_run({**demo.config, ConfigKey.GRANT_TEST_USER_KEY_ACCESS: True}, preview=False)
        attempt = demo.attempt(*share, pack=pack)
        deployed = demo.deployed_protection()
        destroyed = demo.engine(preview=False).destroy()
    return attempt, deployed, destroyed


def test_a_pack_that_lets_the_sharing_through_gets_it_deployed_and_seen(
    trusting_attempt,
) -> None:
    attempt, deployed, destroyed = trusting_attempt
    assert RULE not in attempt.blocking_rules and not attempt.witness
    # Deployed as `pulumi up` would: the comparison reads the table's policy back.
    assert not attempt.unchanged and not attempt.ok
    [statement] = deployed["table policy"]["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}
    assert destroyed[0] == f"deleted {AwsType.DYNAMODB_RESOURCE_POLICY} {SHARED_TABLE_POLICY}"
