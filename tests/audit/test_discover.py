"""Discovery against fake clients: concurrency within the pool, failures as unreadable, order."""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from kmsguard.audit.__main__ import _session
from kmsguard.audit.discover import POOL, discover
from kmsguard.audit.report import shown

ACCT = "111122223333"
REGION = "us-east-1"


def _key_arn(i: int) -> str:
    return f"arn:aws:kms:{REGION}:{ACCT}:key/0000000{i}-0000-0000-0000-000000000000"


class _Pages:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return self.pages


class _Fake:
    """DynamoDB, KMS and IAM at once; counts the calls in flight."""

    def __init__(self, tables: int = 0, keys: int = 0) -> None:
        self.tables = [f"t{i}" for i in range(tables)]
        self.keys = [_key_arn(i).rsplit("/", 1)[1] for i in range(keys)]
        self.in_flight = 0
        self.most = 0
        self._lock = threading.Lock()
        self.gone: set[str] = set()
        self.broken: set[str] = set()
        self.aws_managed: set[str] = set()
        self.pending: set[str] = set()

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        time.sleep(0.002)  # long enough for the pool's other threads to start theirs
        with self._lock:
            self.in_flight -= 1

    def get_paginator(self, op: str) -> _Pages:
        if op == "list_tables":
            half = len(self.tables) // 2
            return _Pages([{"TableNames": self.tables[:half]}, {"TableNames": self.tables[half:]}])
        if op == "list_keys":
            return _Pages(
                [{"Keys": [{"KeyId": k, "KeyArn": _key_arn(0)[:-36] + k} for k in self.keys]}]
            )
        if op == "list_aliases":
            return _Pages(
                [
                    {
                        "Aliases": [
                            {
                                "AliasName": "alias/aws/dynamodb",
                                "TargetKeyId": k,
                                "AliasArn": f"arn:aws:kms:{REGION}:{ACCT}:alias/aws/dynamodb",
                            }
                            for k in self.aws_managed
                        ]
                    }
                ]
            )
        if op in ("list_grants", "list_tags_of_resource"):
            return _Pages([{"Grants": [], "Tags": []}])
        if op == "get_account_authorization_details":
            return _Pages(
                [
                    {
                        "UserDetailList": [],
                        "RoleDetailList": [],
                        "GroupDetailList": [],
                        "Policies": [],
                    }
                ]
            )
        raise AssertionError(op)

    def describe_table(self, TableName: str) -> dict[str, Any]:
        self._enter()
        if TableName in self.gone:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "DescribeTable")
        return {
            "Table": {
                "TableName": TableName,
                "TableArn": f"arn:aws:dynamodb:{REGION}:{ACCT}:table/{TableName}",
            }
        }

    def describe_continuous_backups(self, TableName: str) -> dict[str, Any]:
        if TableName in self.broken:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
        return {"ContinuousBackupsDescription": {}}

    def get_resource_policy(self, ResourceArn: str) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "PolicyNotFoundException"}}, "GetResourcePolicy")

    def describe_key(self, KeyId: str) -> dict[str, Any]:
        self._enter()
        meta = {
            "KeyId": KeyId,
            "Arn": _key_arn(0)[:-36] + KeyId,
            "KeyManager": "CUSTOMER",
            "KeyState": "Enabled",
        }
        if KeyId in self.aws_managed:
            meta["KeyManager"] = "AWS"
        if KeyId in self.pending:
            meta["KeyState"] = "PendingDeletion"
        return {"KeyMetadata": meta}

    def get_key_policy(self, KeyId: str, PolicyName: str) -> dict[str, Any]:
        return {"Policy": "{}"}

    def get_key_rotation_status(self, KeyId: str) -> dict[str, Any]:
        return {"KeyRotationEnabled": True}


def _run(fake: _Fake) -> Any:
    return discover(ACCT, "aws", [REGION], lambda _s, _r: fake)


def test_calls_run_concurrently_within_the_pool() -> None:
    fake = _Fake(tables=60, keys=60)
    inv = _run(fake)
    assert 1 < fake.most <= POOL
    assert [t.name for t in inv.tables] == fake.tables  # both pages, in listing order
    assert len(inv.keys) == 60
    assert inv.calls["dynamodb:ListTables"] == 2


def test_a_failure_is_unreadable_and_a_vanished_table_is_dropped() -> None:
    fake = _Fake(tables=3)
    fake.gone, fake.broken = {"t0"}, {"t1"}
    inv = _run(fake)
    assert [t.name for t in inv.tables] == ["t1", "t2"]
    assert [(u.action, u.code) for u in inv.unreadable] == [
        ("dynamodb:DescribeContinuousBackups", "EndpointConnectionError")
    ]
    assert inv.tables[0].unread == {"pointInTimeRecovery"}
    assert inv.tables[1].resource_policy is None and not inv.tables[1].unread


def test_aws_managed_and_pending_deletion_keys_are_not_judged() -> None:
    fake = _Fake(keys=3)
    fake.aws_managed, fake.pending = {fake.keys[0]}, {fake.keys[1]}
    inv = _run(fake)
    assert [k.metadata["KeyId"] for k in inv.keys] == [fake.keys[2]]
    managed_arn = _key_arn(0)[:-36] + fake.keys[0]
    assert inv.aws_managed == {managed_arn: f"arn:aws:kms:{REGION}:{ACCT}:alias/aws/dynamodb"}
    # No more calls for keys that are not judged than DescribeKey.
    assert inv.calls["kms:GetKeyPolicy"] == 1


def test_clients_retry_in_standard_mode_within_one_pool() -> None:
    args = argparse.Namespace(profile=None, region=["eu-west-1"], endpoint_url="http://127.0.0.1:9")
    _, regions, clients = _session(args)
    c = clients("kms", "eu-west-1")
    assert regions == ["eu-west-1"]
    assert c.meta.config.retries["mode"] == "standard"
    assert c.meta.config.max_pool_connections == POOL
    assert clients("kms", "eu-west-1") is c


def test_terminal_text_shows_controls_as_escapes() -> None:
    assert shown("a\x1b[2Jb\u202ec\n") == "a\\x1b[2Jb\\u202ec\\n"
    assert (
        shown("plain ARN arn:aws:kms:eu-west-1:1:key/x")
        == "plain ARN arn:aws:kms:eu-west-1:1:key/x"
    )
