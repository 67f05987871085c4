"""Plan resolution: administrators default to the deployer, the grant flag, expectations."""

from __future__ import annotations

import pytest

from kmsguard.contract import Sid
from kmsguard.keypolicy import statements_by_sid
from kmsguard.plan import Identity, access_expectations, make_plan
from kmsguard.settings import ConfigError, parse_settings

ID = Identity(
    account_id="111122223333", region="eu-west-1", deployer_arn="arn:aws:iam::111122223333:role/ci"
)
USER = "arn:aws:iam::111122223333:user/kms-test-user"


def expect(rows: tuple[dict[str, str], ...]) -> dict[str, str]:
    return {r["action"]: r["expect"] for r in rows}


def test_administrators_default_to_the_deployer() -> None:
    plan = make_plan(parse_settings({}), ID)
    assert plan.administrators == (ID.deployer_arn,)
    assert plan.test_user_arn == USER


def test_phase_one_leaves_test_user_out_of_the_key_policy() -> None:
    plan = make_plan(parse_settings({}), ID)
    assert USER not in str(plan.key_policy)
    assert plan.users == ()


def test_phase_two_adds_test_user_as_key_user_next_to_configured_users() -> None:
    other = "arn:aws:iam::111122223333:role/app"
    plan = make_plan(
        parse_settings({"grantTestUserKeyAccess": "true", "keyUsers": f'["{other}"]'}), ID
    )
    assert plan.users == (other, USER)
    principals = statements_by_sid(plan.key_policy)[Sid.USERS]["Principal"]["AWS"]
    assert principals == [other, USER]


def test_test_user_in_key_users_is_rejected() -> None:
    with pytest.raises(ConfigError, match="grantTestUserKeyAccess"):
        make_plan(parse_settings({"keyUsers": f'["{USER}"]'}), ID)


@pytest.mark.parametrize(
    ("granted", "restricted", "root", "data", "describe", "decrypt"),
    [
        (False, True, True, "deny", "allow", "deny"),
        (True, True, True, "allow", "allow", "deny"),
        (True, False, True, "allow", "allow", "allow"),
        (False, False, False, "deny", "deny", "deny"),
        (True, True, False, "allow", "allow", "deny"),
    ],
)
def test_expectations_follow_grant_restriction_and_delegation(
    granted: bool, restricted: bool, root: bool, data: str, describe: str, decrypt: str
) -> None:
    rows = access_expectations(USER, granted=granted, restricted=restricted, root_delegation=root)
    assert all(r["principal"] == USER and set(r) == {"principal", "action", "expect"} for r in rows)
    got = expect(rows)
    assert got["dynamodb:DescribeTable"] == "allow"
    assert got["dynamodb:PutItem"] == got["dynamodb:GetItem"] == got["dynamodb:Scan"] == data
    assert got["kms:DescribeKey"] == describe
    assert got["kms:Decrypt"] == decrypt
