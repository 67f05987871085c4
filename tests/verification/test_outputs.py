"""Outputs validation: good outputs parse; every kind of bad input is one clear message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kmsguard.contract import Output
from verification.outputs import (
    VerificationInputError,
    load_outputs_file,
    load_stack_outputs,
    parse_outputs,
)

# The verifier runs from the repository (it is not part of the kmsguard distribution).
REPO = str(Path(__file__).resolve().parents[2])

ACCT = "123456789012"
USER_ARN = f"arn:aws:iam::{ACCT}:user/kms-test-user"


def good() -> dict[str, Any]:
    return {
        Output.TABLE_NAME: "t1",
        Output.TABLE_ARN: f"arn:aws:dynamodb:us-east-1:{ACCT}:table/t1",
        Output.KEY_ID: "k-1",
        Output.KEY_ARN: f"arn:aws:kms:us-east-1:{ACCT}:key/k-1",
        Output.KEY_ALIAS: "alias/t1",
        Output.TEST_USER_NAME: "kms-test-user",
        Output.TEST_USER_ARN: USER_ARN,
        Output.KEY_ADMINISTRATOR_ARNS: [f"arn:aws:iam::{ACCT}:root"],
        Output.KEY_USER_ARNS: [],
        Output.ACCESS_EXPECTATIONS: [
            {"principal": USER_ARN, "action": "kms:Decrypt", "expect": "deny"}
        ],
        Output.KEY_POLICY: {"Version": "2012-10-17", "Statement": []},
        Output.KEY_ROTATION_PERIOD_DAYS: 365,
        Output.REGION: "us-east-1",
    }


def test_good_outputs_parse_and_accept_json_strings() -> None:
    raw = good()
    raw[Output.KEY_POLICY] = json.dumps(raw[Output.KEY_POLICY])
    raw[Output.ACCESS_EXPECTATIONS] = json.dumps(raw[Output.ACCESS_EXPECTATIONS])
    raw[Output.KEY_ROTATION_PERIOD_DAYS] = "365"
    facts = parse_outputs(raw)
    assert facts.key_policy == {"Version": "2012-10-17", "Statement": []}
    assert facts.expectations[0].action == "kms:Decrypt"
    assert facts.key_rotation_period_days == 365
    assert facts.region == "us-east-1"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({Output.KEY_ARN: None}, "keyArn"),
        ({Output.TABLE_ARN: "not-an-arn"}, "must be an ARN"),
        ({Output.KEY_ARN: "[secret]"}, "--show-secrets"),
        (
            {
                Output.ACCESS_EXPECTATIONS: [
                    {"principal": USER_ARN, "action": "s3:GetObject", "expect": "deny"}
                ]
            },
            "unknown action 's3:GetObject'; allowed: dynamodb:DescribeTable",
        ),
        (
            {
                Output.ACCESS_EXPECTATIONS: [
                    {"principal": USER_ARN, "action": "kms:Decrypt", "expect": "maybe"}
                ]
            },
            'expect must be "allow" or "deny"',
        ),
        ({Output.ACCESS_EXPECTATIONS: []}, "nothing to prove"),
        ({Output.KEY_POLICY: {"no": "statements"}}, "policy document"),
        ({Output.KEY_ROTATION_PERIOD_DAYS: 12}, "from 90 to 2560"),
    ],
)
def test_bad_outputs_give_one_line_naming_the_output(change: dict[str, Any], words: str) -> None:
    raw = {**good(), **change}
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(VerificationInputError) as err:
        parse_outputs(raw)
    message = str(err.value)
    assert words in message
    assert "\n" not in message


def test_missing_outputs_are_named_together() -> None:
    raw = good()
    del raw[Output.TABLE_NAME], raw[Output.KEY_ALIAS]
    with pytest.raises(VerificationInputError, match="lack tableName, keyAlias"):
        parse_outputs(raw)


def test_outputs_file_errors(tmp_path: Any) -> None:
    with pytest.raises(VerificationInputError, match="cannot read outputs file"):
        load_outputs_file(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(VerificationInputError, match="is not JSON"):
        load_outputs_file(bad)
    listy = tmp_path / "list.json"
    listy.write_text("[]")
    with pytest.raises(VerificationInputError, match="one JSON object"):
        load_outputs_file(listy)


def test_stack_without_pulumi_on_path_is_a_clear_error() -> None:
    with pytest.raises(VerificationInputError, match="pulumi CLI is not on PATH"):
        load_stack_outputs("dev", pulumi="definitely-not-pulumi-xyz")


@pytest.mark.parametrize(
    "args",
    [
        ["--outputs", "/nonexistent/outputs.json"],
        ["--stack", "dev", "--outputs", "x.json"],
        ["--outputs", "x.json", "--settle-timeout", "soon"],
        [],
    ],
)
def test_cli_bad_input_exits_2_with_one_line_and_no_traceback(args: list[str], tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "verification", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": REPO},
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("verification: ")


def _expect(principal: str, action: str = "kms:Decrypt", expect: str = "deny") -> dict[str, str]:
    return {"principal": principal, "action": action, "expect": expect}


@pytest.mark.parametrize(
    ("principal", "words"),
    [
        (f"arn:aws:iam::{ACCT}:group/admins", "group/admins"),
        (f"arn:aws:iam::{ACCT}:root", ":root"),
        (f"arn:aws:sts::{ACCT}:assumed-role/app/session", "assumed-role/app/session"),
        (f"arn:aws:iam::{ACCT}:policy/p", "policy/p"),
        (f"arn:aws:kms:us-east-1:{ACCT}:key/k-1", "key/k-1"),
    ],
)
def test_a_principal_the_verifier_cannot_act_as_is_refused_up_front(
    principal: str, words: str
) -> None:
    raw = {**good(), Output.ACCESS_EXPECTATIONS: [_expect(USER_ARN), _expect(principal)]}
    with pytest.raises(VerificationInputError) as err:
        parse_outputs(raw)
    message = str(err.value)
    assert words in message
    assert "must be an IAM user or role ARN" in message
    assert "\n" not in message


def test_a_principal_of_another_account_is_refused() -> None:
    # Acting as it would create a key for the same-named user of the stack's own account and
    # report that user's access as the foreign principal's.
    foreign = "arn:aws:iam::999988887777:user/kms-test-user"
    raw = {**good(), Output.ACCESS_EXPECTATIONS: [_expect(foreign)]}
    with pytest.raises(VerificationInputError) as err:
        parse_outputs(raw)
    assert "account 999988887777" in str(err.value)
    assert f"the stack's account {ACCT}" in str(err.value)


@pytest.mark.parametrize("second", ["deny", "allow"])
def test_duplicated_expectations_are_refused_naming_the_pair(second: str) -> None:
    raw = {
        **good(),
        Output.ACCESS_EXPECTATIONS: [_expect(USER_ARN), _expect(USER_ARN, expect=second)],
    }
    with pytest.raises(VerificationInputError) as err:
        parse_outputs(raw)
    assert f"more than one expectation for {USER_ARN} kms:Decrypt" in str(err.value)


def test_outputs_file_that_is_not_utf8_is_one_clear_line(tmp_path: Any) -> None:
    path = tmp_path / "outputs.json"
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(VerificationInputError, match="is not UTF-8 text"):
        load_outputs_file(path)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--endpoint-url", "garbage"], "'garbage' must be an http:// or https:// URL with a host"),
        (["--endpoint-url", "ftp://127.0.0.1:1"], "'ftp://127.0.0.1:1' must be an http://"),
        (["--endpoint-url", "http://127.0.0.1:99999"], "Port out of range"),
        (["--endpoint-url", ""], "'' must be an http://"),
        (["--region", "bad region"], "'bad region' is not an AWS region name"),
        (["--region", ""], "'' is not an AWS region name"),
        (
            ["--json", "outputs.json/report.json"],
            "--json outputs.json/report.json: cannot create directory outputs.json",
        ),
        (["--junit-xml", "."], "--junit-xml . is a directory; give a file path"),
        (
            ["--json", "r.xml", "--junit-xml", "r.xml"],
            "--json and --junit-xml are both r.xml; give each its own file",
        ),
        (
            ["--json", "./sub/../r", "--junit-xml", "r"],
            "--json and --junit-xml are both r; give each its own file",
        ),
        (
            ["--json", "outputs.json"],
            "--outputs and --json are both outputs.json; give each its own file",
        ),
    ],
)
def test_cli_bad_flags_are_refused_before_anything_runs(
    args: list[str], words: str, tmp_path: Any
) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(good()))
    done = subprocess.run(
        [sys.executable, "-m", "verification", "--outputs", str(outputs), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": REPO, "AWS_EC2_METADATA_DISABLED": "true"},
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("verification: ")
    assert words in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({}, "no AWS credentials for the admin"),
        ({"AWS_PROFILE": "no-such-profile"}, "The config profile (no-such-profile) could not be"),
        ({"AWS_ACCESS_KEY_ID": "AKIAONLYHALF"}, "missing: AWS_SECRET_ACCESS_KEY"),
    ],
)
def test_cli_missing_or_half_admin_credentials_are_named(
    env: dict[str, str], words: str, tmp_path: Any
) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(good()))
    # A closed loopback port: credentials are resolved before any connection is tried.
    closed = ["--endpoint-url", "http://127.0.0.1:9"]
    done = subprocess.run(
        [sys.executable, "-m", "verification", "--outputs", str(outputs), *closed],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": REPO,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            **env,
        },
        check=False,
    )
    assert done.returncode == 2
    assert words in done.stderr
    assert "cannot reach" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
