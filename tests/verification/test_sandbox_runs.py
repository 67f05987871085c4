"""End to end against the sandbox: both seed phases, tampering, bad endpoints, no leftovers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import verification
from kmsguard.access.dynamodb_reads import READ_PATHS
from kmsguard.contract import Output, Sid
from tests.verification.conftest import Deployed
from verification.read_probes import NOT_PROBED
from verification.report import Report

pytestmark = pytest.mark.sandbox

REPO = Path(__file__).resolve().parents[2]
EXISTING = {"id": {"S": "customer-1"}, "secret": {"S": "do-not-print-me"}}


def problems(report: Report, d: Deployed) -> dict[str, str]:
    """Every row that did not pass, keyed by check or action."""
    rows = {r.check: r.verdict for r in report.config_rows if r.verdict != "pass"}
    rows |= {r.action: r.verdict for r in report.access_rows if r.verdict != "pass"}
    return rows


def verify(d: Deployed, **kwargs: Any) -> Report:
    kwargs.setdefault("settle_timeout", 0.5)
    return verification.run(d.outputs, endpoint_url=d.sb.endpoint_url, **kwargs)


def assert_clean(d: Deployed) -> None:
    left = d.leftovers()
    assert left["keys"] == []
    assert left["tags"] == []
    assert left["items"] == [EXISTING]


def put_existing(d: Deployed) -> None:
    d.sb.client("dynamodb").put_item(TableName=d.table, Item=EXISTING)


def user_tags(d: Deployed) -> list[dict[str, str]]:
    return list(d.sb.client("iam").list_user_tags(UserName=d.user)["Tags"])


def test_seed_phases_deny_then_grant_pass(stack: Deployed) -> None:
    program_tags = user_tags(stack)
    assert program_tags, "the program tags the test user"
    put_existing(stack)
    report = verify(stack)
    assert problems(report, stack) == {}
    observed = {r.action: r.observed for r in report.access_rows}
    assert observed["dynamodb:GetItem"] == "deny (kms:Decrypt)"
    assert observed["dynamodb:DescribeTable"] == "allow"
    getitem = next(r for r in report.access_rows if r.action == "dynamodb:GetItem")
    assert "kms:Decrypt via DynamoDB: implicit deny" in getitem.explanation
    assert_clean(stack)

    stack.apply(grant=True)
    report = verify(stack)
    assert problems(report, stack) == {}
    observed = {r.action: r.observed for r in report.access_rows}
    assert observed["dynamodb:PutItem"] == observed["dynamodb:Scan"] == "allow"
    assert observed["kms:Decrypt"] == "deny (kms:Decrypt)"  # ViaService restriction
    assert_clean(stack)
    assert "do-not-print-me" not in json.dumps(report.to_json())
    # The verifier tags the user while it acts as it, and removes only its own tags.
    assert user_tags(stack) == program_tags


def test_user_quietly_added_to_key_policy_is_a_mismatch(stack: Deployed) -> None:
    put_existing(stack)
    # The policy the program would deploy once the user is granted, put behind its back.
    granted = stack.planned(grant=True)[Output.KEY_POLICY]
    stack.sb.client("kms").put_key_policy(
        KeyId=stack.key_arn, PolicyName="default", Policy=json.dumps(granted)
    )
    report = verify(stack)
    assert report.exit_code == 1
    assert problems(report, stack) == {
        f"key.policy[{Sid.USERS}]": "MISMATCH",
        f"key.policy[{Sid.GRANTS}]": "MISMATCH",
        "key.policy.meaning": "MISMATCH",
        # Listed with the account's identities: the test user now reads, undeclared.
        f"table.readers[user/{stack.user}]": "MISMATCH",
        "dynamodb:PutItem": "MISMATCH",
        "dynamodb:GetItem": "MISMATCH",
        "dynamodb:Scan": "MISMATCH",
        # And every read path of the table, each expected as GetItem.
        **{
            f"{p.actions[0]} ({p.operation} on the table)": "MISMATCH"
            for p in READ_PATHS
            if p.returns_items and p.resource == "table" and p.operation not in NOT_PROBED
        },
    }
    # Beside the per-statement diff, the meaning: the deployed policy grants the test user more.
    meaning = next(r for r in report.config_rows if r.check == "key.policy.meaning")
    assert meaning.observed == "grants more"
    assert stack.outputs[Output.TEST_USER_ARN] in meaning.detail
    put = next(r for r in report.access_rows if r.action == "dynamodb:PutItem")
    assert (put.expected, put.observed) == ("deny", "allow")
    assert f"'{Sid.USERS}'" in put.explanation
    assert_clean(stack)


def test_table_switched_to_aws_owned_key_is_a_mismatch(stack: Deployed) -> None:
    ddb = stack.sb.client("dynamodb")
    ddb.delete_table(TableName=stack.table)
    ddb.get_waiter("table_not_exists").wait(TableName=stack.table)
    ddb.create_table(  # same name and key schema, no SSESpecification: an AWS owned key
        TableName=stack.table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    put_existing(stack)
    report = verify(stack)
    assert report.exit_code == 1
    found = problems(report, stack)
    assert found["table.sse.type"] == found["table.sse.key"] == "MISMATCH"
    assert found["dynamodb:GetItem"] == "MISMATCH"  # the key no longer protects the data
    sse = next(r for r in report.config_rows if r.check == "table.sse.type")
    assert sse.observed == "AWS_OWNED_KEY"
    assert_clean(stack)


def test_grant_created_out_of_band_is_a_finding_naming_it(stack: Deployed) -> None:
    put_existing(stack)
    kms = stack.sb.client("kms")
    user_arn = stack.outputs[Output.TEST_USER_ARN]
    grant_id = kms.create_grant(
        KeyId=stack.key_arn, GranteePrincipal=user_arn, Operations=["Decrypt"]
    )["GrantId"]
    report = verify(stack)
    assert report.exit_code == 1
    row = next(r for r in report.config_rows if r.check.startswith("key.grants["))
    assert row.verdict == "MISMATCH"
    short = f"{grant_id[:8]}…" if len(grant_id) > 10 else grant_id  # AWS ids are 64 hex digits
    assert row.observed == f"grant {short} lets user/{stack.user} Decrypt"
    assert grant_id in row.detail
    kms.revoke_grant(KeyId=stack.key_arn, GrantId=grant_id)
    report = verify(stack)
    assert not any(r.check.startswith("key.grants[") for r in report.config_rows)
    assert_clean(stack)


def test_rotation_turned_off_is_a_mismatch(stack: Deployed) -> None:
    put_existing(stack)
    stack.sb.client("kms").disable_key_rotation(KeyId=stack.key_arn)
    report = verify(stack)
    assert report.exit_code == 1
    assert problems(report, stack) == {"key.rotation": "MISMATCH"}
    assert_clean(stack)


def test_two_key_limit_is_not_verifiable_and_keys_are_left_alone(stack: Deployed) -> None:
    iam = stack.sb.client("iam")
    mine = [
        iam.create_access_key(UserName=stack.user)["AccessKey"]["AccessKeyId"] for _ in range(2)
    ]
    report = verify(stack)
    assert report.exit_code == 2
    assert {r.verdict for r in report.access_rows} == {"not verifiable"}
    assert "2 access keys" in report.access_rows[0].detail
    keys = iam.list_access_keys(UserName=stack.user)["AccessKeyMetadata"]
    assert sorted(k["AccessKeyId"] for k in keys) == sorted(mine)


def cli(
    d: Deployed,
    tmp_path: Path,
    *extra: str,
    endpoint: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(d.outputs))
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base |= {k: v for k, v in d.sb.environment().items() if k != "AWS_ENDPOINT_URL"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "verification",
            "--outputs",
            str(outputs),
            "--endpoint-url",
            endpoint or d.sb.endpoint_url,
            "--settle-timeout",
            "0.5",
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=base | (env or {}),
        timeout=120,
        check=False,
    )


def test_cli_writes_table_json_and_junit(stack: Deployed, tmp_path: Path) -> None:
    put_existing(stack)
    stack.sb.client("kms").disable_key_rotation(KeyId=stack.key_arn)
    done = cli(
        stack, tmp_path, "--json", str(tmp_path / "r.json"), "--junit-xml", str(tmp_path / "r.xml")
    )
    assert done.returncode == 1, done.stderr
    assert "MISMATCH" in done.stdout and "dynamodb:PutItem" in done.stdout
    assert "do-not-print-me" not in done.stdout + done.stderr
    # Not on a terminal: plain progress lines instead of a spinner that prints nothing.
    progress = done.stderr.splitlines()
    assert "verification: checking configuration as the admin" in progress
    assert any(line.startswith("verification: probing ") for line in progress)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["status"] == "mismatch" and report["exit_code"] == 1
    rotation = next(r for r in report["configuration"] if r["check"] == "key.rotation")
    assert (rotation["expected"], rotation["observed"]) == ("true", "false")
    suites = ET.parse(tmp_path / "r.xml").getroot()
    failures = [c.get("name") for c in suites.iter("testcase") if c.find("failure") is not None]
    assert failures == ["key.rotation"]
    assert_clean(stack)


def test_cli_deleted_table_is_a_mismatch_row(stack: Deployed, tmp_path: Path) -> None:
    ddb = stack.sb.client("dynamodb")
    ddb.delete_table(TableName=stack.table)
    ddb.get_waiter("table_not_exists").wait(TableName=stack.table)
    done = cli(
        stack, tmp_path, "--json", str(tmp_path / "r.json"), "--junit-xml", str(tmp_path / "r.xml")
    )
    assert done.returncode == 1, done.stderr
    assert "(no such table)" in done.stdout and "Traceback" not in done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["status"] == "mismatch" and report["exit_code"] == 1
    row = next(r for r in report["configuration"] if r["check"] == "table.arn")
    assert row["verdict"] == "MISMATCH"
    assert row["expected"] == stack.outputs[Output.TABLE_ARN]
    assert row["observed"] == "(no such table)"
    where = f"account {stack.sb.account_id}, region {stack.sb.region}"
    assert (
        f"table {stack.table} named in the stack outputs does not exist in {where}" in row["detail"]
    )
    # The checks that need the table are not repeated as "not verifiable" rows.
    assert not any(r["check"].startswith("table.sse") for r in report["configuration"])
    suites = ET.parse(tmp_path / "r.xml").getroot()
    failures = [c.get("name") for c in suites.iter("testcase") if c.find("failure") is not None]
    assert failures == ["table.arn"]
    assert stack.user_leftovers() == {"keys": [], "tags": []}


def add_reader_group(d: Deployed, user: str = "intruder") -> str:
    """A group allowed to decrypt with the key and scan the table, and a user in it."""
    iam = d.sb.client("iam")
    read = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": d.key_arn},
            {"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": d.outputs[Output.TABLE_ARN]},
        ],
    }
    iam.create_group(GroupName="readers")
    iam.put_group_policy(GroupName="readers", PolicyName="read", PolicyDocument=json.dumps(read))
    arn = str(iam.create_user(UserName=user)["User"]["Arn"])
    iam.add_user_to_group(GroupName="readers", UserName=user)
    return arn


def test_undeclared_reader_through_a_group_is_a_mismatch(stack: Deployed) -> None:
    put_existing(stack)
    intruder = add_reader_group(stack)
    report = verify(stack)
    assert report.exit_code == 1
    assert problems(report, stack) == {"table.readers[user/intruder]": "MISMATCH"}
    row = next(r for r in report.config_rows if r.check.startswith("table.readers"))
    assert row.detail.startswith(f"{intruder} is not a declared key user; dynamodb:Scan: ")
    assert "root delegation in key policy" in row.detail
    assert "inline policy read of group readers" in row.detail
    # The finding is real: the user reads the table with its own credentials.
    iam = stack.sb.client("iam")
    key = iam.create_access_key(UserName="intruder")["AccessKey"]
    ddb = stack.sb.client("dynamodb", key["AccessKeyId"], key["SecretAccessKey"])
    assert ddb.scan(TableName=stack.table)["Items"] == [EXISTING]
    iam.delete_access_key(UserName="intruder", AccessKeyId=key["AccessKeyId"])
    # Declared as a key user, the same user is no finding.
    stack.outputs[Output.KEY_USER_ARNS] = [*stack.outputs[Output.KEY_USER_ARNS], intruder]
    assert "table.readers[user/intruder]" not in problems(verify(stack), stack)


def test_cli_exits_1_naming_an_undeclared_role_reader(stack: Deployed, tmp_path: Path) -> None:
    put_existing(stack)
    iam = stack.sb.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName="etl", Path="/jobs/", AssumeRolePolicyDocument=json.dumps(trust))
    policy = iam.create_policy(
        PolicyName="read-all",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["kms:*", "dynamodb:GetItem"], "Resource": "*"}
                ],
            }
        ),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="etl", PolicyArn=policy)
    done = cli(stack, tmp_path, "--json", str(tmp_path / "r.json"))
    assert done.returncode == 1, done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    [row] = [r for r in report["configuration"] if r["verdict"] != "pass"]
    assert row["check"] == "table.readers[role/jobs/etl]"
    assert f"managed policy {policy}" in row["detail"]
    assert_clean(stack)


def test_a_user_that_can_become_a_reader_role_is_a_mismatch(stack: Deployed) -> None:
    put_existing(stack)
    iam, account = stack.sb.client("iam"), stack.sb.account_id
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName="etl", AssumeRolePolicyDocument=json.dumps(trust))
    role_arn = role["Role"]["Arn"]
    read = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["kms:Decrypt", "dynamodb:Scan"], "Resource": "*"}
        ],
    }
    iam.put_role_policy(RoleName="etl", PolicyName="read", PolicyDocument=json.dumps(read))
    may_assume = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}],
    }
    dev = iam.create_user(UserName="dev")["User"]["Arn"]
    iam.put_user_policy(UserName="dev", PolicyName="assume", PolicyDocument=json.dumps(may_assume))
    # Declared, the role itself is no finding; the user who can become it is.
    stack.outputs[Output.KEY_USER_ARNS] = [*stack.outputs[Output.KEY_USER_ARNS], role_arn]
    report = verify(stack)
    assert report.exit_code == 1
    assert problems(report, stack) == {"table.readers[user/dev]": "MISMATCH"}
    row = next(r for r in report.config_rows if r.check == "table.readers[user/dev]")
    assert row.detail.startswith(
        f"{dev} is not a declared key user; sts:AssumeRole {role_arn}: trust policy statement 0 "
        "+ inline policy assume statement 0, then as role/etl: dynamodb:Scan: inline policy read"
    ), row.detail
    # The finding is real: the user assumes the role and reads the table.
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    sts = stack.sb.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="reads")["Credentials"]
    ddb = stack.sb.client(
        "dynamodb", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
    )
    assert ddb.scan(TableName=stack.table)["Items"] == [EXISTING]


def test_a_reader_through_the_tables_resource_policy_is_a_mismatch(stack: Deployed) -> None:
    put_existing(stack)
    iam, table_arn = stack.sb.client("iam"), stack.outputs[Output.TABLE_ARN]
    decrypt = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": stack.key_arn}],
    }
    dev = iam.create_user(UserName="dev")["User"]["Arn"]
    iam.put_user_policy(UserName="dev", PolicyName="decrypt", PolicyDocument=json.dumps(decrypt))
    scan = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "LetDevScan",
                "Effect": "Allow",
                "Principal": {"AWS": dev},
                "Action": "dynamodb:Scan",
                "Resource": table_arn,
            }
        ],
    }
    stack.sb.client("dynamodb").put_resource_policy(ResourceArn=table_arn, Policy=json.dumps(scan))
    # As AWS decides: in the same account the table's policy alone allows the DynamoDB call.
    report = verify(stack)
    assert problems(report, stack) == {"table.readers[user/dev]": "MISMATCH"}
    row = next(r for r in report.config_rows if r.check == "table.readers[user/dev]")
    assert "dynamodb:Scan: table resource policy statement 'LetDevScan'; " in row.detail
