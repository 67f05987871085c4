"""sts:AssumeRole needs the caller's identity policy and the role's trust policy, as in AWS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN
from sandbox import SandboxInfo
from tests.access.docs import row
from tests.sandbox.helpers import allow, cmk_table, denied, make_key, make_user, unique

pytestmark = pytest.mark.sandbox


def trusting(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust(principal: dict[str, Any], effect: str = "Allow") -> dict[str, Any]:
    return {"Effect": effect, "Principal": principal, "Action": "sts:AssumeRole"}


def make_role(sb: SandboxInfo, trust_policy: str) -> str:
    iam = sb.client("iam")
    name = unique("role")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy)["Role"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=DYNAMODB_FULL_ACCESS_POLICY_ARN)
    return str(arn)


def assume(sb: SandboxInfo, caller: Any, role_arn: str) -> Any:
    return caller.client(sb, "sts").assume_role(RoleArn=role_arn, RoleSessionName="attempt")


def test_attack_role_trusting_only_ec2_cannot_be_assumed(sb: SandboxInfo) -> None:
    caller = make_user(sb, inline=allow("sts:AssumeRole"))
    role = make_role(sb, trusting(trust({"Service": "ec2.amazonaws.com"})))
    # The role could read the table; the caller must not get there through it.
    cmk_table(sb, make_key(sb, users=(role,)))
    response = denied(lambda: assume(sb, caller, role))
    assert response["Error"]["Code"] == "AccessDenied"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    message = response["Error"]["Message"]
    assert "sts:AssumeRole" in message and role in message and caller.arn in message


def test_attack_unknown_and_foreign_roles_cannot_be_assumed(sb: SandboxInfo) -> None:
    row("sandbox-unknown-role")
    caller = make_user(sb, inline=allow("sts:AssumeRole"))
    for role in (
        f"arn:aws:iam::{sb.account_id}:role/{unique('missing')}",
        "arn:aws:iam::999999999999:role/elsewhere",
        "arn:aws:iam::123456789012:user/not-a-role",
    ):
        response = denied(lambda r=role: assume(sb, caller, r))
        assert response["Error"]["Code"] == "AccessDenied", role
        assert role in response["Error"]["Message"]


def test_trust_naming_the_account_needs_an_identity_allow(sb: SandboxInfo) -> None:
    role = make_role(sb, trusting(trust({"AWS": f"arn:aws:iam::{sb.account_id}:root"})))
    nobody = make_user(sb)
    response = denied(lambda: assume(sb, nobody, role))
    assert (
        "no identity-based policy allows the sts:AssumeRole action"
        in (response["Error"]["Message"])
    )
    permitted = make_user(sb, inline=allow("sts:AssumeRole", role))
    creds = assume(sb, permitted, role)["Credentials"]
    ddb = sb.client(
        "dynamodb", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
    )
    ddb.list_tables()  # acts as the role


def test_trust_naming_the_caller_allows_it_in_the_same_account(sb: SandboxInfo) -> None:
    # AWS: a resource-based policy that names a principal of the same account is enough.
    caller = make_user(sb)
    role = make_role(sb, trusting(trust({"AWS": caller.arn})))
    assert assume(sb, caller, role)["AssumedRoleUser"]["Arn"].endswith("/attempt")


def test_explicit_denies_win_on_either_side(sb: SandboxInfo) -> None:
    caller = make_user(sb, inline=allow("sts:AssumeRole", effect="Deny"))
    role = make_role(sb, trusting(trust({"AWS": caller.arn})))
    response = denied(lambda: assume(sb, caller, role))
    assert "explicit deny in an identity-based policy" in response["Error"]["Message"]

    other = make_user(sb, inline=allow("sts:AssumeRole"))
    root = {"AWS": f"arn:aws:iam::{sb.account_id}:root"}
    role = make_role(sb, trusting(trust(root), trust({"AWS": other.arn}, effect="Deny")))
    response = denied(lambda: assume(sb, other, role))
    assert "explicit deny in a resource-based policy" in response["Error"]["Message"]


def test_the_admin_is_bound_by_trust_policies_too(sb: SandboxInfo) -> None:
    ec2_only = make_role(sb, trusting(trust({"Service": "ec2.amazonaws.com"})))
    response = denied(
        lambda: sb.client("sts").assume_role(RoleArn=ec2_only, RoleSessionName="admin")
    )
    assert response["Error"]["Code"] == "AccessDenied"
    account = make_role(sb, trusting(trust({"AWS": f"arn:aws:iam::{sb.account_id}:root"})))
    sb.client("sts").assume_role(RoleArn=account, RoleSessionName="admin")
