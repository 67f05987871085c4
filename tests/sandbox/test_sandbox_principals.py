"""The sandbox's collector: an access key's caller, its policies filled into the domain Subject."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.iam.models import iam_backends

from sandbox import principals
from sandbox.settings import ACCOUNT_ID, ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY


def _allow(action: str) -> str:
    statement = {"Effect": "Allow", "Action": action, "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture
def iam() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client(
            "iam",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def test_a_user_is_its_own_its_groups_and_its_boundarys_policies(iam: Any) -> None:
    managed = iam.create_policy(PolicyName="scan", PolicyDocument=_allow("dynamodb:Scan"))
    boundary = iam.create_policy(PolicyName="cap", PolicyDocument=_allow("dynamodb:*"))
    iam.create_user(UserName="analyst")
    # As sandbox.user_boundaries records PutUserPermissionsBoundary (moto does not).
    user = iam_backends[ACCOUNT_ID]["aws"].users["analyst"]
    user.permissions_boundary_arn = boundary["Policy"]["Arn"]
    iam.put_user_policy(UserName="analyst", PolicyName="own", PolicyDocument=_allow("kms:Decrypt"))
    iam.create_group(GroupName="readers")
    iam.attach_group_policy(GroupName="readers", PolicyArn=managed["Policy"]["Arn"])
    iam.add_user_to_group(GroupName="readers", UserName="analyst")
    key = iam.create_access_key(UserName="analyst")["AccessKey"]

    caller = principals.resolve(key["AccessKeyId"])

    assert caller is not None and caller.secret_access_key == key["SecretAccessKey"]
    subject = caller.subject
    assert (subject.arn, subject.kind) == (f"arn:aws:iam::{ACCOUNT_ID}:user/analyst", "user")
    assert subject.account == ACCOUNT_ID
    assert [s.origin for s in subject.identity_policies] == [
        "inline policy own",
        f"managed policy {managed['Policy']['Arn']} of group readers",
    ]
    assert [
        json.loads(s.document)["Statement"][0]["Action"] for s in subject.identity_policies
    ] == [
        "kms:Decrypt",
        "dynamodb:Scan",
    ]
    assert subject.groups == (f"arn:aws:iam::{ACCOUNT_ID}:group/readers",)
    assert subject.boundary is not None
    assert subject.boundary.origin == f"permissions boundary {boundary['Policy']['Arn']}"
    assert subject.fully_known


def test_the_admin_is_the_account_root_allowed_everything_by_identity(iam: Any) -> None:
    caller = principals.resolve(ADMIN_ACCESS_KEY_ID)
    assert caller is not None and caller.secret_access_key == ADMIN_SECRET_ACCESS_KEY
    assert (caller.subject.arn, caller.subject.kind) == (f"arn:aws:iam::{ACCOUNT_ID}:root", "root")
    assert [s.document for s in caller.subject.identity_policies] == [principals.ROOT_POLICY]


def test_a_session_is_named_by_its_role_and_capped_by_its_session_policies(iam: Any) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="reader", PolicyName="own", PolicyDocument=_allow("kms:*"))
    sts = boto3.client(
        "sts", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="x"
    )
    creds = sts.assume_role(
        RoleArn=role["Role"]["Arn"], RoleSessionName="s1", Policy=_allow("kms:Decrypt")
    )["Credentials"]

    caller = principals.resolve(creds["AccessKeyId"])

    assert caller is not None and caller.session_token == creds["SessionToken"]
    subject = caller.subject
    assert subject.kind == "assumed-role"
    assert subject.policy_principal == role["Role"]["Arn"]
    assert [s.origin for s in subject.identity_policies] == ["inline policy own"]
    assert [s.origin for s in subject.session_policies] == ["session policy"]


def test_an_unknown_or_inactive_key_is_nobody(iam: Any) -> None:
    iam.create_user(UserName="gone")
    key = iam.create_access_key(UserName="gone")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="gone", AccessKeyId=key, Status="Inactive")
    assert principals.resolve(key) is None
    assert principals.resolve("AKIANOSUCHKEY0000000") is None
