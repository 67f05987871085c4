"""The sandbox against boto3: the kmsguard scenario, key policy rules and identity policies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.config import Config

from kmsguard.contract import (
    DYNAMODB_FULL_ACCESS_POLICY_ARN,
    account_root_arn,
)
from kmsguard.keypolicy import KeyPolicyRoles, build_key_policy, key_policy_json
from sandbox import SandboxInfo, running
from tests.sandbox.helpers import (
    allow,
    cmk_table,
    denied,
    make_key,
    make_table,
    make_user,
    table_names,
    unique,
)

pytestmark = pytest.mark.sandbox


def item(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}}


def test_scenario_end_to_end(sb: SandboxInfo) -> None:
    user = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    key = make_key(sb)
    table = cmk_table(sb, key)
    ddb = user.client(sb, "dynamodb")

    for call in (
        lambda: ddb.scan(TableName=table),
        lambda: ddb.put_item(TableName=table, Item=item("a")),
    ):
        response = denied(call)
        assert response["Error"]["Code"] == "AccessDeniedException"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
        message = response["Error"]["Message"]
        assert "kms:Decrypt" in message and key["Arn"] in message and user.arn in message

    roles = KeyPolicyRoles(account_id=sb.account_id, region=sb.region, users=(user.arn,))
    sb.client("kms").put_key_policy(
        KeyId=key["KeyId"], PolicyName="default", Policy=key_policy_json(roles)
    )
    ddb.put_item(TableName=table, Item=item("a"))
    assert ddb.scan(TableName=table)["Count"] == 1
    assert ddb.get_item(TableName=table, Key=item("a"))["Item"] == item("a")

    blob = sb.client("kms").encrypt(KeyId=key["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    response = denied(lambda: user.client(sb, "kms").decrypt(CiphertextBlob=blob))
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert "kms:Decrypt" in response["Error"]["Message"]


def test_unrestricted_key_user_may_decrypt_directly(sb: SandboxInfo) -> None:
    user = make_user(sb)
    key = make_key(sb, users=(user.arn,), restrict_to_dynamodb=False)
    blob = sb.client("kms").encrypt(KeyId=key["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    assert user.client(sb, "kms").decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"


def test_every_item_operation_needs_the_key(sb: SandboxInfo) -> None:
    user = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    table = cmk_table(sb, make_key(sb))
    ddb = user.client(sb, "dynamodb")
    calls = {
        "GetItem": lambda: ddb.get_item(TableName=table, Key=item("a")),
        "Query": lambda: ddb.query(
            TableName=table,
            KeyConditionExpression="pk = :v",
            ExpressionAttributeValues={":v": {"S": "a"}},
        ),
        "UpdateItem": lambda: ddb.update_item(TableName=table, Key=item("a")),
        "DeleteItem": lambda: ddb.delete_item(TableName=table, Key=item("a")),
        "BatchGetItem": lambda: ddb.batch_get_item(RequestItems={table: {"Keys": [item("a")]}}),
        "BatchWriteItem": lambda: ddb.batch_write_item(
            RequestItems={table: [{"PutRequest": {"Item": item("a")}}]}
        ),
        "TransactGetItems": lambda: ddb.transact_get_items(
            TransactItems=[{"Get": {"TableName": table, "Key": item("a")}}]
        ),
        "TransactWriteItems": lambda: ddb.transact_write_items(
            TransactItems=[{"Put": {"TableName": table, "Item": item("a")}}]
        ),
    }
    for name, call in calls.items():
        response = denied(call)
        assert response["Error"]["Code"] == "AccessDeniedException", name
        assert "kms:Decrypt" in response["Error"]["Message"], name
    # Control-plane calls do not touch the key.
    assert ddb.describe_table(TableName=table)["Table"]["TableName"] == table


def test_root_delegation_with_identity_policy_grants_access(sb: SandboxInfo) -> None:
    key = make_key(sb)  # root delegation only
    decrypt = allow("kms:Decrypt", key["Arn"])
    user = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,), inline=decrypt)
    table = cmk_table(sb, key)
    ddb = user.client(sb, "dynamodb")
    ddb.put_item(TableName=table, Item=item("b"))
    assert ddb.scan(TableName=table)["Count"] == 1


def test_identity_policy_is_ignored_without_root_delegation(sb: SandboxInfo) -> None:
    admin_root = account_root_arn(sb.account_id)
    key = make_key(sb)
    # Creating the table needs a grant on the key, which the root gets through delegation;
    # then the key policy drops the delegation (the root stays an administrator).
    table = cmk_table(sb, key)
    roles = KeyPolicyRoles(
        account_id=sb.account_id,
        region=sb.region,
        enable_root_delegation=False,
        administrators=(admin_root,),
    )
    sb.client("kms").put_key_policy(KeyId=key["KeyId"], Policy=key_policy_json(roles))
    user = make_user(
        sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,), inline=allow("kms:Decrypt", key["Arn"])
    )
    response = denied(lambda: user.client(sb, "dynamodb").scan(TableName=table))
    assert "no resource-based policy allows the kms:Decrypt action" in response["Error"]["Message"]


def test_explicit_deny_in_identity_policy_wins(sb: SandboxInfo) -> None:
    deny = allow("kms:Decrypt", "*", effect="Deny")
    user = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,), inline=deny)
    table = cmk_table(sb, make_key(sb, users=(user.arn,)))
    response = denied(lambda: user.client(sb, "dynamodb").scan(TableName=table))
    assert "explicit deny in an identity-based policy" in response["Error"]["Message"]


def test_explicit_deny_in_key_policy_wins(sb: SandboxInfo) -> None:
    user = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,), inline=allow("kms:Decrypt"))
    deny = {
        "Sid": "DenyUser",
        "Effect": "Deny",
        "Principal": {"AWS": user.arn},
        "Action": ["kms:Decrypt", "kms:DescribeKey"],
        "Resource": "*",
    }
    key = make_key(sb, users=(user.arn,), extra_statements=(deny,))
    table = cmk_table(sb, key)
    response = denied(lambda: user.client(sb, "dynamodb").scan(TableName=table))
    assert "explicit deny in a resource-based policy" in response["Error"]["Message"]
    # A Deny aimed at one user does not concern anyone else (moto alone would refuse everyone).
    assert sb.client("kms").describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Arn"] == key["Arn"]


def test_aws_owned_and_aws_managed_keys_need_dynamodb_permissions_only(sb: SandboxInfo) -> None:
    user = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    ddb = user.client(sb, "dynamodb")
    for sse in (None, {"Enabled": False}, {"Enabled": True, "SSEType": "KMS"}):
        table = make_table(sb, sse)
        ddb.put_item(TableName=table, Item=item("c"))
        assert ddb.scan(TableName=table)["Count"] == 1


def test_disabled_or_deleted_key_makes_table_inaccessible(sb: SandboxInfo) -> None:
    user = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    kms = sb.client("kms")
    for state in ("disabled", "pending deletion"):
        key = make_key(sb, users=(user.arn,))
        table = cmk_table(sb, key)
        ddb = user.client(sb, "dynamodb")
        ddb.put_item(TableName=table, Item=item("d"))
        if state == "disabled":
            kms.disable_key(KeyId=key["KeyId"])
        else:
            kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
        response = denied(lambda t=table, d=ddb: d.get_item(TableName=t, Key=item("d")))
        assert response["Error"]["Code"] == "AccessDeniedException"
        assert f"is {state}" in response["Error"]["Message"]


def test_identity_policies_govern_dynamodb_control_plane(sb: SandboxInfo) -> None:
    table = make_table(sb, None)
    nobody = make_user(sb)
    response = denied(lambda: nobody.client(sb, "dynamodb").describe_table(TableName=table))
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert "dynamodb:DescribeTable" in response["Error"]["Message"]
    assert "no identity-based policy allows" in response["Error"]["Message"]

    table_arn = f"arn:aws:dynamodb:{sb.region}:{sb.account_id}:table/{table}"
    reader = make_user(sb, inline=allow("dynamodb:DescribeTable", table_arn))
    client = reader.client(sb, "dynamodb")
    assert client.describe_table(TableName=table)["Table"]["TableName"] == table
    assert denied(client.list_tables)["Error"]["Code"] == "AccessDeniedException"
    other = make_table(sb, None)
    assert denied(lambda: client.describe_table(TableName=other))["Error"]["Code"] == (
        "AccessDeniedException"
    )


def test_identity_policies_govern_iam_through_groups(sb: SandboxInfo) -> None:
    user = make_user(sb)
    response = denied(lambda: user.client(sb, "iam").list_users())
    assert response["Error"]["Code"] == "AccessDenied"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "iam:ListUsers" in response["Error"]["Message"]

    iam = sb.client("iam")
    group = unique("group")
    iam.create_group(GroupName=group)
    iam.put_group_policy(
        GroupName=group, PolicyName="read", PolicyDocument=json.dumps(allow("iam:List*"))
    )
    iam.add_user_to_group(GroupName=group, UserName=user.name)
    names = [u["UserName"] for u in user.client(sb, "iam").list_users()["Users"]]
    assert user.name in names
    assert (
        denied(lambda: user.client(sb, "iam").create_user(UserName=unique("x")))["Error"]["Code"]
        == "AccessDenied"
    )


def test_assumed_role_acts_as_the_role(sb: SandboxInfo) -> None:
    iam = sb.client("iam")
    caller = make_user(sb, inline=allow("sts:AssumeRole"))
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": caller.arn}, "Action": "sts:AssumeRole"}
        ],
    }
    role_name = unique("role")
    role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    iam.attach_role_policy(RoleName=role_name, PolicyArn=DYNAMODB_FULL_ACCESS_POLICY_ARN)
    key = make_key(sb, users=(role_arn,))
    table = cmk_table(sb, key)

    creds = caller.client(sb, "sts").assume_role(RoleArn=role_arn, RoleSessionName="s1")[
        "Credentials"
    ]
    ddb = sb.client(
        "dynamodb", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
    )
    ddb.put_item(TableName=table, Item=item("r"))
    assert ddb.scan(TableName=table)["Count"] == 1
    # The caller itself holds no DynamoDB permission.
    assert (
        denied(lambda: caller.client(sb, "dynamodb").scan(TableName=table))["Error"]["Code"]
        == "AccessDeniedException"
    )


def test_assume_role_needs_the_trust_policy_even_in_the_account(sb: SandboxInfo) -> None:
    iam = sb.client("iam")
    caller = make_user(sb, inline=allow("sts:AssumeRole"))
    other = make_user(sb)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": other.arn}, "Action": "sts:AssumeRole"}
        ],
    }
    role_arn = iam.create_role(RoleName=unique("role"), AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    error = denied(
        lambda: caller.client(sb, "sts").assume_role(RoleArn=role_arn, RoleSessionName="s1")
    )["Error"]
    assert error["Code"] == "AccessDenied"
    assert "no resource-based policy allows the sts:AssumeRole action" in error["Message"]


def test_unknown_or_missing_credentials_are_rejected(sb: SandboxInfo) -> None:
    ddb = sb.client("dynamodb", "AKIAUNKNOWNKEY000000", "x")
    assert denied(ddb.list_tables)["Error"]["Code"] == "UnrecognizedClientException"
    iam = sb.client("iam", "AKIAUNKNOWNKEY000000", "x")
    assert denied(iam.list_users)["Error"]["Code"] == "InvalidClientTokenId"


def test_admin_is_the_account_root(sb: SandboxInfo) -> None:
    identity = sb.client("sts").get_caller_identity()
    assert identity["Arn"] == account_root_arn(sb.account_id)
    assert identity["Account"] == sb.account_id


def test_key_policy_validation_and_lockout_check(sb: SandboxInfo) -> None:
    kms = sb.client("kms")
    response = denied(lambda: kms.create_key(Policy='{"Statement": [{"Effect": "Maybe"}]}'))
    assert response["Error"]["Code"] == "MalformedPolicyDocumentException"

    key = make_key(sb)
    someone = make_user(sb)
    # A policy that lets only another user manage the key would lock the caller out.
    lockout = build_key_policy(
        KeyPolicyRoles(
            account_id=sb.account_id,
            region=sb.region,
            administrators=(someone.arn,),
            enable_root_delegation=False,
        )
    )
    response = denied(
        lambda: kms.put_key_policy(
            KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(lockout)
        )
    )
    assert response["Error"]["Code"] == "MalformedPolicyDocumentException"
    assert "will not allow you to update the key policy" in response["Error"]["Message"]
    kms.put_key_policy(
        KeyId=key["KeyId"],
        PolicyName="default",
        Policy=json.dumps(lockout),
        BypassPolicyLockoutSafetyCheck=True,
    )
    # Now even the account root cannot use the key: the key policy is authoritative.
    response = denied(lambda: kms.describe_key(KeyId=key["KeyId"]))
    assert (
        "no resource-based policy allows the kms:DescribeKey action" in response["Error"]["Message"]
    )


def test_sandboxes_are_isolated(sb: SandboxInfo) -> None:
    table = make_table(sb, None)
    with running() as other:
        assert table not in table_names(other.client("dynamodb"))
        assert other.endpoint_url != sb.endpoint_url


def test_partiql_cannot_bypass_the_key(sb: SandboxInfo) -> None:
    user = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    table = cmk_table(sb, make_key(sb))
    ddb = user.client(sb, "dynamodb")
    response = denied(lambda: ddb.execute_statement(Statement=f'SELECT * FROM "{table}"'))
    assert "kms:Decrypt" in response["Error"]["Message"]
    granted = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    other = cmk_table(sb, make_key(sb, users=(granted.arn,)))
    items = granted.client(sb, "dynamodb").execute_statement(Statement=f'SELECT * FROM "{other}"')
    assert items["Items"] == []


def test_rotation_period_is_validated_and_reported(sb: SandboxInfo) -> None:
    kms = sb.client("kms")
    key = make_key(sb)
    assert "RotationPeriodInDays" not in kms.get_key_rotation_status(KeyId=key["KeyId"])
    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=180)
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert (status["KeyRotationEnabled"], status["RotationPeriodInDays"]) == (True, 180)
    # botocore checks the range itself; other SDKs leave it to the service.
    unchecked = sb.session().client(
        "kms", endpoint_url=sb.endpoint_url, config=Config(parameter_validation=False)
    )
    response = denied(
        lambda: unchecked.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=30)
    )
    assert response["Error"]["Code"] == "ValidationException"
    other = make_key(sb)
    kms.enable_key_rotation(KeyId=other["KeyId"])
    assert kms.get_key_rotation_status(KeyId=other["KeyId"])["RotationPeriodInDays"] == 365


def test_unsigned_requests_are_rejected(sb: SandboxInfo) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        sb.endpoint_url,
        data=b"{}",
        headers={
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 400
    assert json.loads(info.value.read())["__type"].endswith("MissingAuthenticationTokenException")
