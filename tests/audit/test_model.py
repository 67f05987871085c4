"""Discovered shapes as pulumi-aws state: what the pack reads, and what it must not assume."""

from __future__ import annotations

import json

from kmsguard.audit.findings import PLAN_ONLY
from kmsguard.audit.iam_model import iam_items
from kmsguard.audit.inventory import Inventory, KeyData, Selection, TableData
from kmsguard.audit.judge import pack_config
from kmsguard.audit.model import build, document_text, key_props, table_props
from kmsguard.contract import AwsType
from kmsguard.preview.collect import UNKNOWN
from tests.access.docs import row

ACCT = "111122223333"
KEY = f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MANAGED = f"arn:aws:kms:us-east-1:{ACCT}:key/ffffffff-0000-0000-0000-000000000000"
ALIAS = f"arn:aws:kms:us-east-1:{ACCT}:alias/aws/dynamodb"


def _table(sse: dict | None, **more) -> TableData:
    d = {
        "TableName": "t",
        "TableArn": f"arn:aws:dynamodb:us-east-1:{ACCT}:table/t",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        **({"SSEDescription": sse} if sse else {}),
    }
    backups = {"PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "ENABLED"}}
    return TableData("us-east-1", "t", d["TableArn"], d, backups, [], None, **more)


def test_a_table_on_an_aws_managed_key_names_its_alias() -> None:
    row("audit-aws-managed-key")
    sse = {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": MANAGED}
    props = table_props(_table(sse), {MANAGED: ALIAS})
    assert props["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": ALIAS}
    own = table_props(_table({**sse, "KMSMasterKeyArn": KEY}), {MANAGED: ALIAS})
    assert own["serverSideEncryption"]["kmsKeyArn"] == KEY


def test_a_table_without_sse_description_is_on_an_aws_owned_key() -> None:
    props = table_props(_table(None), {})
    assert props["serverSideEncryption"] == {"enabled": False}
    assert props["pointInTimeRecovery"] == {"enabled": True}
    assert props["hashKey"] == "pk"


def test_a_refused_read_is_unknown_never_the_default() -> None:
    row("audit-unread-unknown")
    t = _table(None, unread={"pointInTimeRecovery"})
    assert table_props(t, {})["pointInTimeRecovery"] == UNKNOWN
    k = KeyData("us-east-1", {"Arn": KEY, "KeyId": "k"}, None, None, [], unread={"policy"})
    props = key_props(k)
    assert props["policy"] == UNKNOWN
    assert props["enableKeyRotation"] is False  # GetKeyRotationStatus said so (None: off)
    blind = KeyData(
        "us-east-1", {"Arn": KEY, "KeyId": "k"}, "{}", None, [], unread={"enableKeyRotation"}
    )
    assert key_props(blind)["enableKeyRotation"] == UNKNOWN


def test_a_key_has_no_deletion_window_and_the_rule_is_disabled() -> None:
    row("audit-deletion-window")
    k = KeyData("us-east-1", {"Arn": KEY, "KeyId": "k"}, "{}", {"KeyRotationEnabled": True})
    assert "deletionWindowInDays" not in key_props(k)
    config = pack_config({}, None, ["kms-key-deletion-window", "kms-key-rotation-enabled"])
    assert config["kms-key-deletion-window"] == {"enforcementLevel": "disabled"}
    assert "kms-key-rotation-enabled" not in config
    assert set(PLAN_ONLY) == {"kms-key-deletion-window", "kms-key-policy-no-new-access"}


def test_the_rotation_period_comes_from_the_rotation_status() -> None:
    k = KeyData(
        "us-east-1",
        {"Arn": KEY, "KeyId": "k"},
        "{}",
        {"KeyRotationEnabled": True, "RotationPeriodInDays": 400},
    )
    props = key_props(k)
    assert (props["enableKeyRotation"], props["rotationPeriodInDays"]) == (True, 400)


def test_iam_documents_url_encoded_or_decoded_read_the_same() -> None:
    doc = {"Version": "2012-10-17", "Statement": []}
    encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"
    assert json.loads(document_text(encoded)) == doc == json.loads(document_text(doc))
    # Text that merely contains an escape is not decoded.
    assert document_text('{"a": "%41"}') == '{"a": "%41"}'


def test_roles_carry_their_policies_and_users_get_attachments() -> None:
    details = {
        "UserDetailList": [
            {
                "UserName": "u",
                "Arn": f"arn:aws:iam::{ACCT}:user/u",
                "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": {"Statement": []}}],
                "AttachedManagedPolicies": [{"PolicyArn": "arn:aws:iam::aws:policy/X"}],
                "GroupList": ["g"],
                "PermissionsBoundary": {"PermissionsBoundaryArn": "arn:aws:iam::aws:policy/B"},
            }
        ],
        "RoleDetailList": [
            {
                "RoleName": "r",
                "Arn": f"arn:aws:iam::{ACCT}:role/r",
                "AssumeRolePolicyDocument": {"Statement": []},
                "RolePolicyList": [{"PolicyName": "i", "PolicyDocument": {"Statement": []}}],
                "AttachedManagedPolicies": [{"PolicyArn": "arn:aws:iam::aws:policy/Y"}],
            }
        ],
        "GroupDetailList": [],
        "Policies": [],
    }
    items = {(t, n): p for t, n, p, _ in iam_items(details, document_text)}
    assert items[(AwsType.IAM_USER, "user/u")]["permissionsBoundary"] == "arn:aws:iam::aws:policy/B"
    assert (AwsType.IAM_USER_POLICY, "user/u/p") in items
    assert items[(AwsType.IAM_USER_GROUP_MEMBERSHIP, "user/u/groups")]["groups"] == ["g"]
    role = items[(AwsType.IAM_ROLE, "role/r")]
    assert role["managedPolicyArns"] == ["arn:aws:iam::aws:policy/Y"]
    assert role["inlinePolicies"][0]["name"] == "i"


def test_each_region_is_a_stack_pinned_to_the_account_and_iam_is_in_each() -> None:
    inv = Inventory(
        ACCT,
        "aws",
        ["us-east-1", "eu-west-1"],
        iam={
            "UserDetailList": [{"UserName": "u", "Arn": f"arn:aws:iam::{ACCT}:user/u"}],
            "RoleDetailList": [],
            "GroupDetailList": [],
            "Policies": [],
        },
    )
    inv.tables.append(_table(None))
    stacks = build(inv)
    assert [s.region for s in stacks] == ["us-east-1", "eu-west-1"]
    provider = stacks[1].resources[0]
    assert provider.type == AwsType.PROVIDER
    assert provider.inputs == {
        "region": "eu-west-1",
        "allowedAccountIds": [ACCT],
        "version": "audit",
    }
    assert [r.type for r in stacks[0].resources].count(AwsType.DYNAMODB_TABLE) == 1
    assert [r.type for r in stacks[1].resources].count(AwsType.DYNAMODB_TABLE) == 0
    assert all(AwsType.IAM_USER in [r.type for r in s.resources] for s in stacks)
    assert all(r.provider == f"{provider.urn}::{provider.id}" for r in stacks[1].resources[1:])


def test_selection_globs_exclude_wins_and_are_case_sensitive() -> None:
    s = Selection(("orders-*",), ("orders-tmp*",))
    assert s.wants(["orders-eu"]) and not s.wants(["orders-tmp1"])
    assert not s.wants(["ORDERS-eu"]) and not s.wants(["billing"])
    assert Selection().wants(["anything"])
    # A name of many wildcards and a long name: fnmatch's regex stays linear enough here.
    assert not Selection(("*a" * 50 + "b",)).wants(["a" * 5000])


STREAM = f"arn:aws:dynamodb:us-east-1:{ACCT}:table/t/stream/2024-01-01T00:00:00.000"
SPEC = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}


def _streamed(**more) -> TableData:
    t = _table(None, **more)
    t.description.update(StreamSpecification=SPEC, LatestStreamArn=STREAM)
    return t


def _policies(t: TableData) -> dict[str, object]:
    inv = Inventory(ACCT, "aws", ["us-east-1"], tables=[t])
    (stack,) = build(inv)
    return {
        r.outputs["resourceArn"]: r.outputs["policy"]
        for r in stack.resources
        if r.type == "aws:dynamodb/resourcePolicy:ResourcePolicy"
    }


def test_the_table_and_its_stream_each_bring_their_resource_policy() -> None:
    t = _streamed(stream_policy='{"stream": 1}')
    t.resource_policy = '{"table": 1}'
    assert _policies(t) == {t.arn: '{"table": 1}', STREAM: '{"stream": 1}'}
    props = table_props(t, {})
    assert (props["streamEnabled"], props["streamViewType"]) == (True, "NEW_IMAGE")
    assert props["streamArn"] == STREAM


def test_an_unread_resource_policy_is_unknown_never_none() -> None:
    row("audit-unread-unknown")
    assert _policies(_streamed(unread={"streamPolicy"})) == {STREAM: UNKNOWN}
    assert _policies(_streamed(unread={"resourcePolicy"})) == {_table(None).arn: UNKNOWN}
    assert _policies(_streamed()) == {}
