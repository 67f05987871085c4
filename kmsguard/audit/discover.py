"""Read-only discovery of one account's DynamoDB tables, KMS keys (per region) and IAM."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmsguard.audit.discover_iam import discover_iam
from kmsguard.audit.inventory import (
    Calls,
    Inventory,
    KeyData,
    Selection,
    TableData,
)
from kmsguard.aws_errors import error_code

# Connections per client and threads per phase: botocore's pool is the bound on concurrency.
POOL = 10
_GONE = ("ResourceNotFoundException", "NotFoundException", "TableNotFoundException")

Clients = Callable[[str, str], Any]  # (service, region) -> a boto3 client
Progress = Callable[[str, int, int], None]  # (phase, done, total)


def _pages(client: Any, operation: str, key: str, calls: Calls, action: str, **kw: Any) -> list:
    out: list[Any] = []
    for page in client.get_paginator(operation).paginate(**kw):
        calls.count(action)
        out.extend(page.get(key, []))
    return out


def _call(
    calls: Calls, resource: str, action: str, fn: Callable[[], Any], absent: Sequence[str] = ()
) -> tuple[bool, Any]:
    """(read, value): read is False when the call was refused (recorded as unreadable); a
    not-found code listed in `absent` is a successful read of nothing (value None)."""
    calls.count(action)
    try:
        return True, fn()
    except (ClientError, BotoCoreError) as exc:
        if error_code(exc) in absent:
            return True, None
        calls.refused(resource, action, exc)
        return False, None


def _table(ddb: Any, region: str, name: str, calls: Calls, account: str) -> TableData | None:
    arn_guess = f"arn:{calls.inventory.partition}:dynamodb:{region}:{account}:table/{name}"
    calls.count("dynamodb:DescribeTable")
    try:
        description = ddb.describe_table(TableName=name)["Table"]
    except (ClientError, BotoCoreError) as exc:
        if error_code(exc) in _GONE:
            return None  # deleted since it was listed
        calls.refused(arn_guess, "dynamodb:DescribeTable", exc)
        return TableData(region, name, arn_guess, {}, unread={"*"})
    arn = str(description.get("TableArn") or arn_guess)
    t = TableData(region, name, arn, description)
    ok, backups = _call(
        calls,
        arn,
        "dynamodb:DescribeContinuousBackups",
        lambda: ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"],
        _GONE,
    )
    t.backups = backups
    if not ok:
        t.unread.add("pointInTimeRecovery")
    t.resource_policy = _policy(ddb, calls, t, arn, "resourcePolicy")
    stream = str(description.get("LatestStreamArn") or "")
    if stream and (description.get("StreamSpecification") or {}).get("StreamEnabled"):
        # A stream has its own resource-based policy: its records are the table's items.
        t.stream_policy = _policy(ddb, calls, t, stream, "streamPolicy")
    try:
        t.tags = _pages(
            ddb,
            "list_tags_of_resource",
            "Tags",
            calls,
            "dynamodb:ListTagsOfResource",
            ResourceArn=arn,
        )
    except (ClientError, BotoCoreError) as exc:
        calls.refused(arn, "dynamodb:ListTagsOfResource", exc)
        t.unread.add("tags")
    return t


def _policy(ddb: Any, calls: Calls, t: TableData, arn: str, prop: str) -> str | None:
    """The resource-based policy on `arn` (None: it has none); a refusal marks `prop` unread."""
    ok, policy = _call(
        calls,
        arn,
        "dynamodb:GetResourcePolicy",
        lambda: ddb.get_resource_policy(ResourceArn=arn)["Policy"],
        ("PolicyNotFoundException", *_GONE),
    )
    if not ok:
        t.unread.add(prop)
    return str(policy) if policy is not None else None


def _key(kms: Any, region: str, key_id: str, calls: Calls, account: str) -> KeyData | None:
    guess = f"arn:{calls.inventory.partition}:kms:{region}:{account}:key/{key_id}"
    calls.count("kms:DescribeKey")
    try:
        metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    except (ClientError, BotoCoreError) as exc:
        if error_code(exc) in ("NotFoundException",):
            return None
        calls.refused(guess, "kms:DescribeKey", exc)
        return KeyData(region, {"Arn": guess, "KeyId": key_id}, unread={"*"})
    k = KeyData(region, metadata)
    if metadata.get("KeyManager") == "AWS" or metadata.get("KeyState") in _NOT_JUDGED:
        return k  # AWS's own keys, and keys on their way out, are not judged: no more calls
    ok, k.policy = _call(
        calls,
        k.arn,
        "kms:GetKeyPolicy",
        lambda: kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"],
    )
    if not ok:
        k.unread.add("policy")
    if (
        metadata.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
        and metadata.get("Origin", "AWS_KMS") == "AWS_KMS"
    ):
        # Rotation exists only for symmetric keys with key material from KMS.
        ok, k.rotation = _call(
            calls,
            k.arn,
            "kms:GetKeyRotationStatus",
            lambda: kms.get_key_rotation_status(KeyId=key_id),
        )
        if not ok:
            k.unread.add("enableKeyRotation")
    try:
        k.grants = _pages(kms, "list_grants", "Grants", calls, "kms:ListGrants", KeyId=key_id)
    except (ClientError, BotoCoreError) as exc:
        calls.refused(k.arn, "kms:ListGrants", exc)
        k.unread.add("grants")
    return k


_NOT_JUDGED = ("PendingDeletion", "PendingReplicaDeletion")


def _fan_out(
    items: Sequence[str], work: Callable[[str], Any], phase: str, progress: Progress
) -> list[Any]:
    """`work` on each item on POOL threads, results in the items' order; progress as they end."""
    done = 0
    lock = threading.Lock()
    progress(phase, 0, len(items))

    def one(item: str) -> Any:
        nonlocal done
        result = work(item)
        with lock:
            done += 1
            progress(phase, done, len(items))
        return result

    with ThreadPoolExecutor(max_workers=POOL) as pool:
        return list(pool.map(one, items))


def _listed(
    client: Any, operation: str, key: str, calls: Calls, action: str, where: str
) -> list[Any] | None:
    try:
        return _pages(client, operation, key, calls, action)
    except (ClientError, BotoCoreError) as exc:
        calls.refused(where, action, exc)
        return None


def discover_region(
    inv: Inventory, region: str, clients: Clients, selection: Selection, progress: Progress
) -> None:
    calls = Calls(inv)
    account, partition = inv.account, inv.partition
    ddb, kms = clients("dynamodb", region), clients("kms", region)
    names = (
        _listed(
            ddb,
            "list_tables",
            "TableNames",
            calls,
            "dynamodb:ListTables",
            f"arn:{partition}:dynamodb:{region}:{account}:table/*",
        )
        or []
    )
    names = [n for n in names if selection.wants([n])]
    tables = [
        t
        for t in _fan_out(
            names, lambda n: _table(ddb, region, n, calls, account), f"tables {region}", progress
        )
        if t is not None
    ]
    inv.tables.extend(tables)
    aliases = (
        _listed(
            kms,
            "list_aliases",
            "Aliases",
            calls,
            "kms:ListAliases",
            f"arn:{partition}:kms:{region}:{account}:alias/*",
        )
        or []
    )
    by_key: dict[str, list[str]] = {}
    for a in aliases:
        if a.get("TargetKeyId"):
            by_key.setdefault(str(a["TargetKeyId"]), []).append(str(a["AliasName"]))
    listed = (
        _listed(
            kms,
            "list_keys",
            "Keys",
            calls,
            "kms:ListKeys",
            f"arn:{partition}:kms:{region}:{account}:key/*",
        )
        or []
    )
    used = {str(t.description.get("SSEDescription", {}).get("KMSMasterKeyArn", "")) for t in tables}
    wanted = [
        str(k["KeyId"])
        for k in listed
        if str(k.get("KeyArn", "")) in used
        or selection.wants(
            [str(k["KeyId"]), *(a.removeprefix("alias/") for a in by_key.get(str(k["KeyId"]), []))]
        )
    ]
    keys = [
        k
        for k in _fan_out(
            wanted, lambda i: _key(kms, region, i, calls, account), f"keys {region}", progress
        )
        if k is not None
    ]
    alias_arns = {str(a["AliasName"]): str(a.get("AliasArn", "")) for a in aliases}
    for k in keys:
        k.aliases = sorted(by_key.get(str(k.metadata.get("KeyId")), []))
        if k.metadata.get("KeyManager") == "AWS":
            names_ = k.aliases or ["alias/aws/unknown"]
            inv.aws_managed[k.arn] = alias_arns.get(names_[0]) or (
                f"arn:{partition}:kms:{region}:{account}:{names_[0]}"
            )
        elif k.metadata.get("KeyState") not in _NOT_JUDGED:
            inv.keys.append(k)


def discover(
    account: str,
    partition: str,
    regions: Sequence[str],
    clients: Clients,
    selection: Selection | None = None,
    progress: Progress = lambda *_: None,
) -> Inventory:
    """Everything the audit reads, with every refused call recorded (never raised)."""
    inv = Inventory(account, partition, list(regions))
    selection = selection or Selection()
    discover_iam(inv, clients, regions[0], progress)
    for region in regions:
        discover_region(inv, region, clients, selection, progress)
    return inv
