"""Load and validate the stack outputs the verifier reads into typed `StackFacts`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kmsguard.access.arn import account_of, iam_identity
from kmsguard.contract import REQUIRED_OUTPUTS, Expect, Output

# Every action the verifier knows how to probe, in the order rows are reported.
SUPPORTED_ACTIONS: tuple[str, ...] = (
    "dynamodb:DescribeTable",
    "dynamodb:PutItem",
    "dynamodb:GetItem",
    "dynamodb:Scan",
    "kms:DescribeKey",
    "kms:Decrypt",
)

_SECRET_PLACEHOLDER = "[secret]"
# Principals the verifier can act as: IAM users (temporary access key) and roles (AssumeRole).
_ACTABLE_SHAPE = "arn:<partition>:iam::<account>:user/<name> or ...:role/<name>"


class VerificationInputError(Exception):
    """The verifier's input is unusable; the message is one line naming what and what is allowed."""


@dataclass(frozen=True)
class Expectation:
    principal: str
    action: str
    expect: str


@dataclass(frozen=True)
class StackFacts:
    """What the program declared, as exported in its stack outputs."""

    table_name: str
    table_arn: str
    key_id: str
    key_arn: str
    key_alias: str
    test_user_name: str
    test_user_arn: str
    key_administrator_arns: tuple[str, ...]
    key_user_arns: tuple[str, ...]
    expectations: tuple[Expectation, ...]
    key_policy: dict[str, Any] | None = None
    key_rotation_period_days: int | None = None
    key_deletion_window_days: int | None = None
    region: str | None = None
    account_id: str | None = None


def _fail(name: str, value: Any, allowed: str) -> VerificationInputError:
    shown = value if isinstance(value, str) else json.dumps(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return VerificationInputError(f"stack output {name} = {shown!r}: {allowed}")


def _maybe_json(value: Any) -> Any:
    # `pulumi stack output --json` prints lists and objects as JSON, but a program that exported
    # them with json.dumps gives strings; accept both.
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _string(raw: Mapping[str, Any], name: str, *, arn: bool = False) -> str:
    value = raw.get(name)
    if value == _SECRET_PLACEHOLDER:
        raise _fail(name, value, "is hidden; read outputs with --show-secrets")
    if not isinstance(value, str) or not value.strip():
        raise _fail(name, value, "must be a non-empty string")
    if arn and not _is_arn(value):
        raise _fail(name, value, "must be an ARN (arn:<partition>:<service>:...)")
    return value


def _is_arn(value: str) -> bool:
    """An ARN naming its account (what the program's outputs are)."""
    return account_of(value) is not None and value.startswith("arn:")


def _arn_list(raw: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = _maybe_json(raw.get(name))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(name, raw.get(name), "must be a list of IAM ARN strings")
    for item in value:
        if not _is_arn(item):
            raise _fail(name, item, "is not an ARN")
    return tuple(value)


def _expectations(raw: Mapping[str, Any], account: str) -> tuple[Expectation, ...]:
    name = Output.ACCESS_EXPECTATIONS
    value = _maybe_json(raw.get(name))
    shape = 'must be a list of {"principal": <ARN>, "action": <action>, "expect": "allow"|"deny"}'
    if not isinstance(value, list):
        raise _fail(name, raw.get(name), shape)
    result: list[Expectation] = []
    seen: set[tuple[str, str]] = set()
    for item in value:
        if not isinstance(item, dict) or set(item) != {"principal", "action", "expect"}:
            raise _fail(name, item, shape)
        principal, action, expect = item["principal"], item["action"], item["expect"]
        if not isinstance(principal, str) or not _is_arn(principal):
            raise _fail(name, item, "principal must be an IAM ARN")
        actable = iam_identity(principal)
        if not actable:
            raise _fail(
                name,
                principal,
                f"principal must be an IAM user or role ARN ({_ACTABLE_SHAPE}); "
                "the verifier acts as each principal",
            )
        if actable[1] != account:
            # IAM calls name users without an account: acting as it would probe the
            # same-named user of the stack's account and credit the result to this principal.
            raise _fail(
                name,
                principal,
                f"principal is in account {actable[1]}, not the stack's account {account}; "
                "the verifier can act only as principals of the stack's account",
            )
        if not isinstance(action, str) or action not in SUPPORTED_ACTIONS:
            raise _fail(
                name, item, f"unknown action {action!r}; allowed: {', '.join(SUPPORTED_ACTIONS)}"
            )
        if expect not in (Expect.ALLOW, Expect.DENY):
            raise _fail(name, item, f'expect must be "{Expect.ALLOW}" or "{Expect.DENY}"')
        if (principal, action) in seen:
            raise VerificationInputError(
                f"stack output {name} has more than one expectation for {principal} {action}; "
                "allowed: one per principal and action"
            )
        seen.add((principal, action))
        result.append(Expectation(principal, action, expect))
    if not result:
        raise _fail(name, value, "lists no expectation; there would be nothing to prove")
    return tuple(result)


def _optional_int(raw: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(name, raw.get(name), f"must be a whole number from {low} to {high}")
    return value


def _optional_policy(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    name = Output.KEY_POLICY
    value = raw.get(name)
    if value is None:
        return None
    parsed = _maybe_json(value)
    statements = parsed.get("Statement") if isinstance(parsed, dict) else None
    if not isinstance(statements, list | dict):
        raise _fail(name, value, "must be a policy document (JSON object with a Statement list)")
    return parsed


def _optional_string(raw: Mapping[str, Any], name: str, pattern: str, allowed: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise _fail(name, value, allowed)
    return value


def parse_outputs(raw: Any) -> StackFacts:
    """Validate a stack outputs object. Raises VerificationInputError on the first problem."""
    if not isinstance(raw, dict):
        raise VerificationInputError(
            "stack outputs must be one JSON object (as printed by `pulumi stack output --json`)"
        )
    missing = [name for name in REQUIRED_OUTPUTS if name not in raw]
    if missing:
        raise VerificationInputError(
            f"stack outputs lack {', '.join(missing)}; is this a kmsguard stack after `pulumi up`?"
        )
    table_arn = _string(raw, Output.TABLE_ARN, arn=True)
    return StackFacts(
        table_name=_string(raw, Output.TABLE_NAME),
        table_arn=table_arn,
        key_id=_string(raw, Output.KEY_ID),
        key_arn=_string(raw, Output.KEY_ARN, arn=True),
        key_alias=_string(raw, Output.KEY_ALIAS),
        test_user_name=_string(raw, Output.TEST_USER_NAME),
        test_user_arn=_string(raw, Output.TEST_USER_ARN, arn=True),
        key_administrator_arns=_arn_list(raw, Output.KEY_ADMINISTRATOR_ARNS),
        key_user_arns=_arn_list(raw, Output.KEY_USER_ARNS),
        expectations=_expectations(raw, account_of(table_arn) or ""),
        key_policy=_optional_policy(raw),
        key_rotation_period_days=_optional_int(raw, Output.KEY_ROTATION_PERIOD_DAYS, 90, 2560),
        key_deletion_window_days=_optional_int(raw, Output.KEY_DELETION_WINDOW_DAYS, 7, 30),
        region=_optional_string(
            raw, Output.REGION, r"[a-z]{2}(-[a-z]+)+-\d", "must be an AWS region such as us-east-1"
        ),
        account_id=_optional_string(
            raw, Output.ACCOUNT_ID, r"\d{12}", "must be a 12-digit AWS account id"
        ),
    )


def load_outputs_file(path: str | Path) -> StackFacts:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise VerificationInputError(f"cannot read outputs file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise VerificationInputError(
            f"outputs file {path} is not UTF-8 text; "
            "write it with `pulumi stack output --json --show-secrets > FILE`"
        ) from None
    try:
        raw = json.loads(text)
    except RecursionError:
        raise VerificationInputError(f"outputs file {path} is nested too deeply to read") from None
    except json.JSONDecodeError as exc:
        raise VerificationInputError(
            f"outputs file {path} is not JSON (line {exc.lineno}: {exc.msg}); "
            "write it with `pulumi stack output --json --show-secrets > FILE`"
        ) from None
    return parse_outputs(raw)


def load_stack_outputs(stack: str, *, pulumi: str = "pulumi") -> StackFacts:
    """Read outputs with `pulumi stack output --json --show-secrets --stack NAME`."""
    exe = shutil.which(pulumi)
    if exe is None:
        raise VerificationInputError(
            "the pulumi CLI is not on PATH; install it or pass --outputs FILE "
            "(from `pulumi stack output --json --show-secrets`)"
        )
    try:
        done = subprocess.run(
            [exe, "stack", "output", "--json", "--show-secrets", "--stack", stack],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VerificationInputError(f"could not run pulumi stack output: {exc}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        raise VerificationInputError(f"pulumi stack output --stack {stack} failed: {reason}")
    try:
        raw = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise VerificationInputError(
            f"pulumi stack output --stack {stack} did not print JSON"
        ) from None
    return parse_outputs(raw)
