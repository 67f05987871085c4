"""Validate the stack configuration, collecting every error into one message."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kmsguard.access.arn import is_account_id, parse_arn
from kmsguard.contract import CONFIG_KEYS, PROJECT, ConfigKey

DELETION_WINDOW_RANGE = (7, 30)
ROTATION_PERIOD_RANGE = (90, 2560)

# DynamoDB allows '.', KMS alias names do not; the alias is `alias/<tableName>`, so both must hold.
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_-]{3,255}$")
_USER_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
_USER_OR_ROLE = re.compile(r"(?:user|role)/[\w+=,.@/-]+")


def _is_session_arn(text: str) -> bool:
    arn = parse_arn(text)
    return arn is not None and arn.service == "sts" and arn.resource.startswith("assumed-role/")


def _is_principal_arn(text: str) -> bool:
    """An account root, IAM user or IAM role ARN in a partition the program deploys to."""
    arn = parse_arn(text)
    return (
        arn is not None
        and arn.partition in _PARTITIONS
        and arn.service == "iam"
        and not arn.region
        and is_account_id(arn.account)
        and (arn.resource == "root" or bool(_USER_OR_ROLE.fullmatch(arn.resource)))
    )


class ConfigError(ValueError):
    """Invalid configuration; `problems` holds one line per invalid key, `keys` those keys."""

    def __init__(self, problems: list[str], keys: list[str] | None = None) -> None:
        self.problems = problems
        self.keys = keys if keys is not None else []
        super().__init__(
            f"invalid configuration ({len(problems)} problem{'s' if len(problems) > 1 else ''}):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


@dataclass(frozen=True)
class Settings:
    """Validated configuration. `key_administrators` is None when it defaults to the deployer."""

    table_name: str = "kms-protected-table"
    test_user_name: str = "kms-test-user"
    grant_test_user_key_access: bool = False
    key_administrators: tuple[str, ...] | None = None
    key_users: tuple[str, ...] = ()
    enable_root_delegation: bool = True
    restrict_key_use_to_dynamodb: bool = True
    key_deletion_window_days: int = 30
    key_rotation_period_days: int = 365
    point_in_time_recovery: bool = True
    deletion_protection: bool = False


DEFAULTS = Settings()


def _key(name: str, namespace: str | None = PROJECT) -> str:
    """`kmsguard:name` for stack config; the bare name for the component's arguments."""
    return f"{namespace}:{name}" if namespace else name


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


class _Parser:
    def __init__(self, raw: Mapping[str, Any], namespace: str | None) -> None:
        self.raw = raw
        self.namespace = namespace
        self.problems: list[str] = []
        self.keys: list[str] = []

    def fail(self, key: str, value: Any, allowed: str) -> None:
        self.problems.append(f"{_key(key, self.namespace)} = {_show(value)}: {allowed}")
        self.keys.append(key)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        self.fail(key, value, "must be a boolean: true or false")
        return default

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.raw.get(key)
        if value is None:
            return default
        parsed: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            parsed = value
        elif isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            parsed = int(value)
        if parsed is None or not low <= parsed <= high:
            self.fail(key, value, f"must be a whole number of days from {low} to {high}")
            return default
        return parsed

    def name(self, key: str, default: str, pattern: re.Pattern[str], allowed: str) -> str:
        value = self.raw.get(key)
        if value is None:
            return default
        if not isinstance(value, str) or not pattern.fullmatch(value):
            self.fail(key, value, allowed)
            return default
        return value

    def arn_list(self, key: str) -> tuple[str, ...] | None:
        value = self.raw.get(key)
        if value is None:
            return None
        items: Any = value
        if isinstance(value, str):
            try:
                items = json.loads(value)
            except json.JSONDecodeError:
                self.fail(key, value, 'must be a JSON list of IAM ARNs, e.g. ["arn:aws:iam::…"]')
                return None
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            self.fail(key, value, "must be a list of IAM ARN strings")
            return None
        ok = True
        for item in items:
            if _is_session_arn(item):
                self.fail(
                    key,
                    item,
                    "is an STS session ARN; key policies need the role ARN "
                    "(arn:aws:iam::<account>:role/<name>)",
                )
                ok = False
            elif not _is_principal_arn(item):
                self.fail(
                    key,
                    item,
                    "is not an IAM principal ARN; allowed: arn:aws:iam::<12-digit account>:root, "
                    ":user/<name> or :role/<name>",
                )
                ok = False
        duplicates = sorted({i for i in items if items.count(i) > 1})
        if duplicates:
            self.fail(key, value, f"lists {', '.join(duplicates)} more than once")
            ok = False
        return tuple(items) if ok else None


def parse_settings(raw: Mapping[str, Any], namespace: str | None = PROJECT) -> Settings:
    """Parse raw config values (keys without namespace; strings as Pulumi stores them).

    Raises ConfigError naming every invalid key, its value and what is allowed.
    """
    p = _Parser(raw, namespace)
    unknown = sorted(set(raw) - set(CONFIG_KEYS))
    for key in unknown:
        p.fail(key, raw[key], f"unknown key; allowed keys: {', '.join(CONFIG_KEYS)}")
    settings = Settings(
        table_name=p.name(
            ConfigKey.TABLE_NAME,
            DEFAULTS.table_name,
            _TABLE_NAME,
            "must be 3-255 characters of letters, digits, '_' or '-' "
            "(a valid DynamoDB table name that is also a valid KMS alias)",
        ),
        test_user_name=p.name(
            ConfigKey.TEST_USER_NAME,
            DEFAULTS.test_user_name,
            _USER_NAME,
            "must be 1-64 characters of letters, digits and + = , . @ _ -",
        ),
        grant_test_user_key_access=p.boolean(
            ConfigKey.GRANT_TEST_USER_KEY_ACCESS, DEFAULTS.grant_test_user_key_access
        ),
        key_administrators=p.arn_list(ConfigKey.KEY_ADMINISTRATORS),
        key_users=p.arn_list(ConfigKey.KEY_USERS) or (),
        enable_root_delegation=p.boolean(
            ConfigKey.ENABLE_ROOT_DELEGATION, DEFAULTS.enable_root_delegation
        ),
        restrict_key_use_to_dynamodb=p.boolean(
            ConfigKey.RESTRICT_KEY_USE_TO_DYNAMODB, DEFAULTS.restrict_key_use_to_dynamodb
        ),
        key_deletion_window_days=p.integer(
            ConfigKey.KEY_DELETION_WINDOW_DAYS,
            DEFAULTS.key_deletion_window_days,
            *DELETION_WINDOW_RANGE,
        ),
        key_rotation_period_days=p.integer(
            ConfigKey.KEY_ROTATION_PERIOD_DAYS,
            DEFAULTS.key_rotation_period_days,
            *ROTATION_PERIOD_RANGE,
        ),
        point_in_time_recovery=p.boolean(
            ConfigKey.POINT_IN_TIME_RECOVERY, DEFAULTS.point_in_time_recovery
        ),
        deletion_protection=p.boolean(ConfigKey.DELETION_PROTECTION, DEFAULTS.deletion_protection),
    )
    admins = settings.key_administrators
    if admins is not None and not admins and not settings.enable_root_delegation:
        p.fail(
            ConfigKey.KEY_ADMINISTRATORS,
            [],
            "no key administrator would be left while "
            f"{_key(ConfigKey.ENABLE_ROOT_DELEGATION, namespace)} "
            "is false; name at least one administrator or enable root delegation",
        )
    if p.problems:
        raise ConfigError(p.problems, p.keys)
    return settings


def check_test_user_not_in_key_users(
    settings: Settings, test_user_arn: str, namespace: str | None = PROJECT
) -> None:
    """The test user's access is the grant flag's job; listing it in keyUsers would hide phase 1."""
    if test_user_arn in settings.key_users:
        raise ConfigError(
            [
                f"{_key(ConfigKey.KEY_USERS, namespace)} = {_show(list(settings.key_users))}: "
                f"lists the test user {test_user_arn}; use "
                f"{_key(ConfigKey.GRANT_TEST_USER_KEY_ACCESS, namespace)} to grant "
                "it key use instead"
            ],
            [ConfigKey.KEY_USERS],
        )
