"""Config validation: defaults, each class of bad input, and all errors in one message."""

from __future__ import annotations

import pytest

from kmsguard.settings import DEFAULTS, ConfigError, parse_settings

ROLE = "arn:aws:iam::111122223333:role/admin"


def problems(raw: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_settings(raw)
    return err.value.problems


def test_empty_config_gives_the_documented_defaults() -> None:
    s = parse_settings({})
    assert s == DEFAULTS
    assert (s.table_name, s.test_user_name) == ("kms-protected-table", "kms-test-user")
    assert s.grant_test_user_key_access is False and s.key_administrators is None
    assert (s.key_deletion_window_days, s.key_rotation_period_days) == (30, 365)
    assert s.enable_root_delegation and s.restrict_key_use_to_dynamodb
    assert s.point_in_time_recovery and not s.deletion_protection


def test_values_as_pulumi_stores_them_are_parsed() -> None:
    s = parse_settings(
        {
            "grantTestUserKeyAccess": "True",
            "keyAdministrators": f'["{ROLE}"]',
            "keyDeletionWindowDays": "7",
            "keyRotationPeriodDays": "2560",
        }
    )
    assert s.grant_test_user_key_access is True
    assert s.key_administrators == (ROLE,)
    assert (s.key_deletion_window_days, s.key_rotation_period_days) == (7, 2560)


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("keyDeletionWindowDays", "6", "from 7 to 30"),
        ("keyDeletionWindowDays", "31", "from 7 to 30"),
        ("keyDeletionWindowDays", "ten", "from 7 to 30"),
        ("keyRotationPeriodDays", "89", "from 90 to 2560"),
        ("keyRotationPeriodDays", "2561", "from 90 to 2560"),
        ("grantTestUserKeyAccess", "yes", "true or false"),
        ("pointInTimeRecovery", "1", "true or false"),
        ("tableName", "ab", "3-255 characters"),
        ("tableName", "orders.v2", "valid KMS alias"),
        ("testUserName", "bad user", "1-64 characters"),
        ("keyUsers", "arn:aws:iam::111122223333:user/a", "JSON list"),
        ("keyUsers", '["arn:aws:s3:::bucket"]', "not an IAM principal ARN"),
        ("keyUsers", '["arn:aws:iam::1234:user/a"]', "not an IAM principal ARN"),
        # Digits a regex `\d` matches but AWS never issues: not an account.
        (
            "keyUsers",
            '["arn:aws:iam::\u0661\u0661\u0661\u0661\u0662\u0662\u0662\u0662\u0663\u0663\u0663\u0663:root"]',
            "not an IAM principal ARN",
        ),
        ("keyUsers", '["arn:aws:iam:eu-west-1:111122223333:user/a"]', "not an IAM principal ARN"),
        ("keyAdministrators", '["arn:aws:sts::111122223333:assumed-role/r/s"]', "role ARN"),
        ("keyUsers", f'["{ROLE}", "{ROLE}"]', "more than once"),
        ("keyUsers", "[1, 2]", "list of IAM ARN strings"),
        ("tabelName", "x", "unknown key"),
    ],
)
def test_each_bad_value_names_key_value_and_what_is_allowed(
    key: str, value: str, allowed: str
) -> None:
    [message] = problems({key: value})
    assert message.startswith(f"kmsguard:{key} = ")
    assert allowed in message


def test_no_administrator_left_when_root_delegation_off() -> None:
    [message] = problems({"keyAdministrators": "[]", "enableRootDelegation": "false"})
    assert "no key administrator would be left" in message
    # With root delegation on, an empty list is allowed: root can still administer.
    assert parse_settings({"keyAdministrators": "[]"}).key_administrators == ()


def test_all_errors_are_collected_into_one_message() -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings({"keyDeletionWindowDays": "3", "tableName": "x", "deletionProtection": "no"})
    assert len(err.value.problems) == 3
    text = str(err.value)
    assert text.startswith("invalid configuration (3 problems)")
    for key in ("keyDeletionWindowDays", "tableName", "deletionProtection"):
        assert f"kmsguard:{key}" in text
