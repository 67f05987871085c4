"""--state-dir: everything acknowledged survives a kill -9; without it, state is memory only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN
from kmsguard.keypolicy import KeyPolicyRoles, key_policy_json
from sandbox import SandboxInfo, running
from sandbox.settings import (
    ACCOUNT_ID,
    ADMIN_ACCESS_KEY_ID,
    ADMIN_SECRET_ACCESS_KEY,
    READY_PREFIX,
)
from sandbox.state import FILE_NAME

pytestmark = pytest.mark.sandbox
REPO = Path(__file__).resolve().parents[2]


@contextmanager
def killed_at_the_end(state_dir: Path) -> Iterator[SandboxInfo]:
    """A sandbox process that is SIGKILLed, not stopped, when the block ends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env["PYTHONPATH"] = str(REPO)
    command = [sys.executable, "-m", "sandbox", "serve", "--port", "0"]
    proc = subprocess.Popen(
        [*command, "--state-dir", str(state_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(READY_PREFIX), line
        endpoint = line[len(READY_PREFIX) :].strip()
        yield SandboxInfo(
            endpoint, "us-east-1", ACCOUNT_ID, ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
        )
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_state_survives_kill_9_and_acknowledged_writes_are_all_there(tmp_path: Path) -> None:
    acknowledged: list[str] = []
    with killed_at_the_end(tmp_path) as sb:
        iam = sb.client("iam")
        arn = iam.create_user(UserName="keeper")["User"]["Arn"]
        iam.attach_user_policy(UserName="keeper", PolicyArn=DYNAMODB_FULL_ACCESS_POLICY_ARN)
        creds = iam.create_access_key(UserName="keeper")["AccessKey"]
        kms = sb.client("kms")
        roles = KeyPolicyRoles(account_id=sb.account_id, region=sb.region, users=(arn,))
        key = kms.create_key(Policy=key_policy_json(roles))["KeyMetadata"]
        kms.create_alias(AliasName="alias/kept", TargetKeyId=key["KeyId"])
        kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=200)
        blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"kept")["CiphertextBlob"]
        sb.client("dynamodb").create_table(
            TableName="kept",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]},
        )

        def writer(n: int) -> list[str]:
            ddb = sb.client("dynamodb", creds["AccessKeyId"], creds["SecretAccessKey"])
            done = []
            for i in range(15):
                pk = f"{n}-{i}"
                ddb.put_item(TableName="kept", Item={"pk": {"S": pk}})
                done.append(pk)  # acknowledged: must survive
            return done

        with ThreadPoolExecutor(4) as pool:
            for done in pool.map(writer, range(4)):
                acknowledged.extend(done)
    assert (tmp_path / FILE_NAME).exists()

    with running(state_dir=tmp_path) as sb:
        ddb = sb.client("dynamodb", creds["AccessKeyId"], creds["SecretAccessKey"])
        items = ddb.scan(TableName="kept")["Items"]
        assert sorted(i["pk"]["S"] for i in items) == sorted(acknowledged)
        kms = sb.client("kms")
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
        assert kms.describe_key(KeyId="alias/kept")["KeyMetadata"]["Arn"] == key["Arn"]
        status = kms.get_key_rotation_status(KeyId=key["KeyId"])
        assert status["RotationPeriodInDays"] == 200
        # The key policy still decides: an outsider's new access key is still refused.
        described = sb.client("dynamodb").describe_table(TableName="kept")["Table"]
        assert described["SSEDescription"]["KMSMasterKeyArn"] == key["Arn"]
        # AWS managed policies are moto's own again, attached ones still attached.
        attached = sb.client("iam").list_attached_user_policies(UserName="keeper")
        assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [
            DYNAMODB_FULL_ACCESS_POLICY_ARN
        ]


def test_unreadable_state_is_one_message_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_bytes(b"not a snapshot")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--port", "0", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    assert "unreadable" in done.stderr and "move it away" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_state_dir_a_restart_starts_empty() -> None:
    with running() as sb:
        sb.client("kms").create_key()
    with running() as sb:
        assert sb.client("kms").list_keys()["Keys"] == []


def test_snapshot_from_before_managed_keys_were_marked_keeps_the_aws_managed_key(
    tmp_path: Path,
) -> None:
    import pickle

    from sandbox.state import _register_key_pickling

    with running(state_dir=tmp_path) as sb:
        table = "on-aws-managed-key"
        sb.client("dynamodb").create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            SSESpecification={"Enabled": True, "SSEType": "KMS"},
        )
        arn = sb.client("dynamodb").describe_table(TableName=table)["Table"]["SSEDescription"][
            "KMSMasterKeyArn"
        ]
    # As an earlier sandbox wrote it: the key unmarked, with moto's empty policy.
    _register_key_pickling()
    path = tmp_path / FILE_NAME
    data = pickle.loads(path.read_bytes())
    key = data["backends"]["kms"]["us-east-1"]["keys"][arn.split("/")[-1]]
    key.key_manager, key.policy = "CUSTOMER", ""
    path.write_bytes(pickle.dumps(data))
    with running(state_dir=tmp_path) as sb:
        iam = sb.client("iam")
        iam.create_user(UserName="reader")
        iam.attach_user_policy(UserName="reader", PolicyArn=DYNAMODB_FULL_ACCESS_POLICY_ARN)
        created = iam.create_access_key(UserName="reader")["AccessKey"]
        reader = sb.client("dynamodb", created["AccessKeyId"], created["SecretAccessKey"])
        assert reader.scan(TableName=table)["Count"] == 0
        described = sb.client("kms").describe_key(KeyId=arn)["KeyMetadata"]
        assert described["KeyManager"] == "AWS"
