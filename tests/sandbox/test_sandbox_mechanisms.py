"""Grants, permission boundaries, session policies and organization policies, through boto3."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN
from sandbox import SandboxInfo, running
from tests.access.docs import row
from tests.sandbox.helpers import (
    allow,
    cmk_table,
    denied,
    item,
    make_key,
    make_user,
    unique,
)

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxInfo]:
    with running() as info:
        yield info


def encrypt(sb: SandboxInfo, key: dict[str, Any], context: dict[str, str] | None = None) -> bytes:
    extra = {"EncryptionContext": context} if context else {}
    blob = sb.client("kms").encrypt(KeyId=key["KeyId"], Plaintext=b"secret", **extra)
    return bytes(blob["CiphertextBlob"])


# ---------------------------------------------------------------- grants


def test_a_grant_lets_its_grantee_decrypt_until_revoked(sb: SandboxInfo) -> None:
    user = make_user(sb)
    key = make_key(sb)
    blob = encrypt(sb, key)
    kms = user.client(sb, "kms")
    assert denied(lambda: kms.decrypt(CiphertextBlob=blob))["Error"]["Code"] == (
        "AccessDeniedException"
    )
    admin = sb.client("kms")
    grant = admin.create_grant(KeyId=key["Arn"], GranteePrincipal=user.arn, Operations=["Decrypt"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    listed = admin.list_grants(KeyId=key["Arn"])["Grants"]
    assert [g["GrantId"] for g in listed if g["GranteePrincipal"] == user.arn] == [grant["GrantId"]]
    # Decrypt only: the grant does not let the grantee encrypt.
    response = denied(lambda: kms.encrypt(KeyId=key["Arn"], Plaintext=b"x"))
    assert "kms:Encrypt" in response["Error"]["Message"]
    admin.revoke_grant(KeyId=key["Arn"], GrantId=grant["GrantId"])
    assert denied(lambda: kms.decrypt(CiphertextBlob=blob))["Error"]["Code"] == (
        "AccessDeniedException"
    )


def test_grant_constraints_on_the_encryption_context(sb: SandboxInfo) -> None:
    user = make_user(sb)
    key = make_key(sb)
    sb.client("kms").create_grant(
        KeyId=key["Arn"],
        GranteePrincipal=user.arn,
        Operations=["Decrypt"],
        Constraints={"EncryptionContextSubset": {"dept": "it"}},
    )
    kms = user.client(sb, "kms")
    ok = encrypt(sb, key, {"dept": "it", "extra": "x"})
    assert (
        kms.decrypt(CiphertextBlob=ok, EncryptionContext={"dept": "it", "extra": "x"})["Plaintext"]
        == b"secret"
    )
    other = encrypt(sb, key, {"dept": "hr"})
    response = denied(lambda: kms.decrypt(CiphertextBlob=other, EncryptionContext={"dept": "hr"}))
    assert response["Error"]["Code"] == "AccessDeniedException"


def test_the_grantee_may_retire_its_grant_with_retire_grant(sb: SandboxInfo) -> None:
    user = make_user(sb)
    key = make_key(sb)
    admin = sb.client("kms")
    grant = admin.create_grant(
        KeyId=key["Arn"], GranteePrincipal=user.arn, Operations=["Decrypt", "RetireGrant"]
    )
    user.client(sb, "kms").retire_grant(GrantToken=grant["GrantToken"])
    assert all(
        g["GrantId"] != grant["GrantId"] for g in admin.list_grants(KeyId=key["Arn"])["Grants"]
    )


def test_the_account_retires_a_grant_its_key_policy_does_not_let_it_touch(
    sb: SandboxInfo,
) -> None:
    row("sandbox-retire-grant-account")
    user = make_user(sb)
    key = make_key(sb)
    admin = sb.client("kms")
    grant = admin.create_grant(KeyId=key["Arn"], GranteePrincipal=user.arn, Operations=["Decrypt"])
    other = admin.create_grant(KeyId=key["Arn"], GranteePrincipal=user.arn, Operations=["Decrypt"])
    # The key policy now lets the account (root) do nothing but read it back.
    only_describe = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{sb.account_id}:root"},
                "Action": ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants"],
                "Resource": "*",
            }
        ],
    }
    admin.put_key_policy(
        KeyId=key["Arn"],
        PolicyName="default",
        Policy=json.dumps(only_describe),
        BypassPolicyLockoutSafetyCheck=True,
    )
    assert (
        denied(lambda: admin.revoke_grant(KeyId=key["Arn"], GrantId=grant["GrantId"]))["Error"][
            "Code"
        ]
        == "AccessDeniedException"
    )
    # The grant's own account may still retire it: a grant decides who retires it.
    admin.retire_grant(KeyId=key["Arn"], GrantId=grant["GrantId"])
    assert all(
        g["GrantId"] != grant["GrantId"] for g in admin.list_grants(KeyId=key["Arn"])["Grants"]
    )
    # Someone else with no part in the grant is still refused.
    stranger = make_user(sb, inline=allow("kms:RetireGrant"))
    response = denied(
        lambda: stranger.client(sb, "kms").retire_grant(KeyId=key["Arn"], GrantId=other["GrantId"])
    )
    assert response["Error"]["Code"] == "AccessDeniedException"


def test_a_malformed_grant_is_a_validation_error(sb: SandboxInfo) -> None:
    key = make_key(sb)
    response = denied(
        lambda: sb.client("kms").create_grant(
            KeyId=key["Arn"],
            GranteePrincipal=f"arn:aws:iam::{sb.account_id}:user/x",
            Operations=["Decrypt", "Peek"],
        )
    )
    assert response["Error"]["Code"] == "ValidationException"
    assert "Operations[1]: 'Peek' is not a grant operation" in response["Error"]["Message"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_table_on_a_customer_managed_key_has_dynamodb_grant(sb: SandboxInfo) -> None:
    key = make_key(sb)
    table = cmk_table(sb, key)
    grants = sb.client("kms").list_grants(KeyId=key["Arn"])["Grants"]
    service = f"dynamodb.{sb.region}.amazonaws.com"
    mine = [g for g in grants if g["GranteePrincipal"] == service]
    assert len(mine) == 1
    assert mine[0]["Constraints"]["EncryptionContextSubset"]["aws:dynamodb:tableName"] == table
    assert "Decrypt" in mine[0]["Operations"]
    sb.client("dynamodb").delete_table(TableName=table)
    grants = sb.client("kms").list_grants(KeyId=key["Arn"])["Grants"]
    assert not [g for g in grants if g["GranteePrincipal"] == service]


# ---------------------------------------------------------------- permission boundaries


def boundary(sb: SandboxInfo, actions: str | list[str]) -> str:
    arn = sb.client("iam").create_policy(
        PolicyName=unique("boundary"), PolicyDocument=json.dumps(allow(actions))
    )["Policy"]["Arn"]
    return str(arn)


def test_a_user_boundary_caps_identity_policies_in_aws_words(sb: SandboxInfo) -> None:
    user = make_user(sb, managed=(DYNAMODB_FULL_ACCESS_POLICY_ARN,))
    table = cmk_table(sb, make_key(sb, users=(user.arn,)))
    ddb = user.client(sb, "dynamodb")
    ddb.put_item(TableName=table, Item=item("a"))
    sb.client("iam").put_user_permissions_boundary(
        UserName=user.name, PermissionsBoundary=boundary(sb, "s3:*")
    )
    response = denied(lambda: ddb.get_item(TableName=table, Key=item("a")))
    assert response["Error"]["Message"].endswith(
        "because no permissions boundary allows the dynamodb:GetItem action"
    )


def test_get_user_and_create_user_show_the_users_boundary(sb: SandboxInfo) -> None:
    # A verifier or auditor reads boundaries with GetUser; one it cannot see it cannot judge.
    iam = sb.client("iam")
    cap = boundary(sb, "s3:*")
    name = unique("bounded")
    created = iam.create_user(UserName=name, PermissionsBoundary=cap)["User"]
    assert created["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "Policy",
        "PermissionsBoundaryArn": cap,
    }
    assert (
        iam.get_user(UserName=name)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == cap
    )
    other = boundary(sb, "sqs:*")
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=other)
    shown = iam.get_user(UserName=name)["User"]["PermissionsBoundary"]
    assert shown["PermissionsBoundaryArn"] == other
    iam.delete_user_permissions_boundary(UserName=name)
    assert "PermissionsBoundary" not in iam.get_user(UserName=name)["User"]


def test_a_key_policy_naming_the_user_is_not_capped_by_its_boundary(sb: SandboxInfo) -> None:
    user = make_user(sb)
    key = make_key(sb, users=(user.arn,), restrict_to_dynamodb=False)
    sb.client("iam").put_user_permissions_boundary(
        UserName=user.name, PermissionsBoundary=boundary(sb, "s3:*")
    )
    assert user.client(sb, "kms").decrypt(CiphertextBlob=encrypt(sb, key))["Plaintext"] == b"secret"


# ---------------------------------------------------------------- session policies


def _role(sb: SandboxInfo, caller_arn: str) -> tuple[str, str]:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": caller_arn}, "Action": "sts:AssumeRole"}
        ],
    }
    iam = sb.client("iam")
    name = unique("role")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=DYNAMODB_FULL_ACCESS_POLICY_ARN)
    return name, str(arn)


def _session(sb: SandboxInfo, caller: Any, role_arn: str, **extra: Any) -> Any:
    creds = caller.client(sb, "sts").assume_role(RoleArn=role_arn, RoleSessionName="s1", **extra)[
        "Credentials"
    ]
    return sb.client(
        "dynamodb", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
    )


def test_session_policy_inline_and_arns_cap_the_role(sb: SandboxInfo) -> None:
    caller = make_user(sb, inline=allow("sts:AssumeRole"))
    _, role_arn = _role(sb, caller.arn)
    table = cmk_table(sb, make_key(sb, users=(role_arn,)))
    full = _session(sb, caller, role_arn)
    full.put_item(TableName=table, Item=item("a"))
    scoped = _session(sb, caller, role_arn, Policy=json.dumps(allow("dynamodb:DescribeTable")))
    scoped.describe_table(TableName=table)
    response = denied(lambda: scoped.get_item(TableName=table, Key=item("a")))
    assert response["Error"]["Message"].endswith(
        "because no session policy allows the dynamodb:GetItem action"
    )
    # The key policy names the role ARN: the session policy caps that too (AWS's documented
    # rule), so it must allow the kms:Decrypt DynamoDB makes on the session's behalf.
    reader = boundary(sb, ["dynamodb:GetItem", "kms:Decrypt"])
    by_arn = _session(sb, caller, role_arn, PolicyArns=[{"arn": reader}])
    assert by_arn.get_item(TableName=table, Key=item("a"))["Item"] == item("a")
    assert denied(lambda: by_arn.scan(TableName=table))["Error"]["Message"].endswith(
        "because no session policy allows the dynamodb:Scan action"
    )


def test_a_malformed_session_policy_is_refused(sb: SandboxInfo) -> None:
    caller = make_user(sb, inline=allow("sts:AssumeRole"))
    _, role_arn = _role(sb, caller.arn)
    bad = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Permit"}]})
    response = denied(
        lambda: caller.client(sb, "sts").assume_role(
            RoleArn=role_arn, RoleSessionName="s1", Policy=bad
        )
    )
    assert response["Error"]["Code"] == "MalformedPolicyDocument"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


# ---------------------------------------------------------------- organization policies


def test_scps_from_org_policies_dir(tmp_path: Path) -> None:
    full = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            *full["Statement"],
            {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"},
        ],
    }
    (tmp_path / "scp-1-root.json").write_text(json.dumps(full))
    (tmp_path / "scp-2-account.json").write_text(json.dumps(deny))
    with running(org_policies=tmp_path) as sb:
        user = make_user(sb)
        key = make_key(sb, users=(user.arn,), restrict_to_dynamodb=False)
        response = denied(lambda: user.client(sb, "kms").decrypt(CiphertextBlob=encrypt(sb, key)))
        assert response["Error"]["Message"].endswith(
            "with an explicit deny in a service control policy"
        )


def test_an_rcp_level_without_an_allow_denies_in_aws_words(tmp_path: Path) -> None:
    rcp = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "NotAction": "kms:Decrypt", "Resource": "*"}
        ],
    }
    (tmp_path / "rcp-1-root.json").write_text(json.dumps(rcp))
    with running(org_policies=tmp_path) as sb:
        user = make_user(sb)
        key = make_key(sb, users=(user.arn,), restrict_to_dynamodb=False)
        response = denied(lambda: user.client(sb, "kms").decrypt(CiphertextBlob=encrypt(sb, key)))
        assert response["Error"]["Message"].endswith(
            "because no resource control policy allows the kms:Decrypt action"
        )


def test_a_bad_org_policies_dir_is_one_line_exit_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "scp-1.json").write_text('{"Statement": [{"Effect": "Allow", "Action": "*"}]}')
    done = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--port", "0", "--org-policies", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("python -m sandbox: error: --org-policies: ")
    assert "scp-1.json: Statement[0]: needs Resource or NotResource" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_an_aws_managed_policy_is_read_with_identity_permissions_alone(sb: SandboxInfo) -> None:
    reader = make_user(sb, inline=allow(["iam:GetPolicy", "iam:GetPolicyVersion"]))
    iam = reader.client(sb, "iam")
    policy = iam.get_policy(PolicyArn=DYNAMODB_FULL_ACCESS_POLICY_ARN)["Policy"]
    assert policy["Arn"] == DYNAMODB_FULL_ACCESS_POLICY_ARN
    version = iam.get_policy_version(
        PolicyArn=DYNAMODB_FULL_ACCESS_POLICY_ARN, VersionId=policy["DefaultVersionId"]
    )
    assert version["PolicyVersion"]["Document"]
    nobody = make_user(sb)
    denied(lambda: nobody.client(sb, "iam").get_policy(PolicyArn=DYNAMODB_FULL_ACCESS_POLICY_ARN))
