"""Discovered resources as the pack reads a stack: pulumi-aws type tokens, property names, types."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote

from kmsguard.access.arn import parse_arn
from kmsguard.audit.inventory import Inventory, KeyData, TableData
from kmsguard.contract import AwsType
from kmsguard.preview.collect import UNKNOWN, RegisteredResource

PROJECT = "kmsguard-audit"
KMS_EXTERNAL_KEY = "aws:kms/externalKey:ExternalKey"


@dataclass
class Stack:
    """One region's resources (and the account's IAM) as one stack, and what each one is."""

    region: str
    resources: list[RegisteredResource] = field(default_factory=list)
    arn_of: dict[str, str] = field(default_factory=dict)  # URN -> the resource's ARN

    def add(self, r: RegisteredResource, arn: str) -> None:
        self.resources.append(r)
        self.arn_of[r.urn] = arn


def _urn(account: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{account}::{PROJECT}::{type_}::{name}"


def _resource(
    account: str, type_: str, name: str, props: dict[str, Any], provider: str
) -> RegisteredResource:
    return RegisteredResource(
        type=type_,
        urn=_urn(account, type_, name),
        name=name,
        custom=True,
        parent="",
        provider=provider,
        dependencies=[],
        property_dependencies={},
        inputs=props,
        outputs=props,
        id=name,
    )


def document_text(value: Any) -> str:
    """A policy document as JSON text: IAM hands them over URL-encoded or already decoded."""
    if isinstance(value, str):
        return unquote(value) if value.lstrip().startswith("%7B") else value
    try:
        return json.dumps(value, separators=(",", ":"))
    except (RecursionError, TypeError, ValueError):
        return UNKNOWN  # nested beyond reading: unknown to the pack, not a policy of nothing


def _tags(items: Iterable[Mapping[str, Any]] | None, k: str = "Key", v: str = "Value") -> Any:
    return {str(t.get(k)): str(t.get(v)) for t in items or []}


def _or_unknown(unread: set[str], prop: str, value: Any) -> Any:
    return UNKNOWN if prop in unread or "*" in unread else value


def table_props(t: TableData, aws_managed: Mapping[str, str]) -> dict[str, Any]:
    """DescribeTable & co. as pulumi-aws's Table state.

    A table on an AWS managed key names that key by its alias (alias/aws/dynamodb): DescribeKey
    said AWS manages it, which the pack otherwise only sees in the alias.
    """
    d = t.description
    if "*" in t.unread:
        return {"name": t.name, "arn": t.arn, "serverSideEncryption": UNKNOWN}
    keys = {s["KeyType"]: s["AttributeName"] for s in d.get("KeySchema", [])}
    sse = d.get("SSEDescription") or {}
    key_arn = str(sse.get("KMSMasterKeyArn") or "")
    encryption: dict[str, Any] = {"enabled": sse.get("Status") in ("ENABLED", "UPDATING")}
    if encryption["enabled"]:
        encryption["kmsKeyArn"] = aws_managed.get(key_arn, key_arn)
    backups = t.backups or {}
    pitr = backups.get("PointInTimeRecoveryDescription") or {}
    stream = d.get("StreamSpecification") or {}
    props: dict[str, Any] = {
        "name": t.name,
        "arn": t.arn,
        "billingMode": (d.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED"),
        "hashKey": keys.get("HASH", ""),
        "attributes": [
            {"name": a["AttributeName"], "type": a["AttributeType"]}
            for a in d.get("AttributeDefinitions", [])
        ],
        "serverSideEncryption": encryption,
        "pointInTimeRecovery": _or_unknown(
            t.unread,
            "pointInTimeRecovery",
            {"enabled": pitr.get("PointInTimeRecoveryStatus") == "ENABLED"},
        ),
        "deletionProtectionEnabled": bool(d.get("DeletionProtectionEnabled")),
        "streamEnabled": bool(stream.get("StreamEnabled")),
        "globalSecondaryIndexes": [_index(i) for i in d.get("GlobalSecondaryIndexes", [])],
        "localSecondaryIndexes": [_index(i) for i in d.get("LocalSecondaryIndexes", [])],
        "replicas": [
            {"regionName": r.get("RegionName", ""), "kmsKeyArn": r.get("KMSMasterKeyId", "")}
            for r in d.get("Replicas", [])
        ],
        "tags": _or_unknown(t.unread, "tags", _tags(t.tags)),
    }
    if "RANGE" in keys:
        props["rangeKey"] = keys["RANGE"]
    if stream.get("StreamViewType"):
        props["streamViewType"] = stream["StreamViewType"]
    if d.get("LatestStreamArn"):
        props["streamArn"] = d["LatestStreamArn"]
    return props


def resource_policies(t: TableData) -> list[tuple[str, dict[str, Any]]]:
    """The table's and its stream's resource-based policies as pulumi-aws ResourcePolicy
    resources; one that could not be read is there with an unknown document, so that the pack
    defers rather than judges the table as if it had none."""
    out: list[tuple[str, dict[str, Any]]] = []
    stream = str(t.description.get("LatestStreamArn") or "")
    for arn, doc, prop, name in (
        (t.arn, t.resource_policy, "resourcePolicy", f"{t.name}/policy"),
        (stream, t.stream_policy, "streamPolicy", f"{t.name}/stream/policy"),
    ):
        if not arn or "*" in t.unread:
            continue
        if prop in t.unread:
            out.append((name, {"resourceArn": arn, "policy": UNKNOWN}))
        elif doc:
            out.append((name, {"resourceArn": arn, "policy": doc}))
    return out


def _index(i: Mapping[str, Any]) -> dict[str, Any]:
    keys = {s["KeyType"]: s["AttributeName"] for s in i.get("KeySchema", [])}
    out = {
        "name": i.get("IndexName", ""),
        "hashKey": keys.get("HASH", ""),
        "projectionType": (i.get("Projection") or {}).get("ProjectionType", ""),
    }
    if "RANGE" in keys:
        out["rangeKey"] = keys["RANGE"]
    return out


def key_props(k: KeyData) -> dict[str, Any]:
    """DescribeKey, GetKeyPolicy and GetKeyRotationStatus as pulumi-aws's Key state.

    The deletion window is absent: an existing key has none until its deletion is scheduled.
    """
    m = k.metadata
    props: dict[str, Any] = {
        "arn": k.arn,
        "keyId": str(m.get("KeyId", "")),
        "description": str(m.get("Description", "")),
        "keyUsage": str(m.get("KeyUsage", "ENCRYPT_DECRYPT")),
        "customerMasterKeySpec": str(m.get("KeySpec", "SYMMETRIC_DEFAULT")),
        "isEnabled": bool(m.get("Enabled", True)),
        "multiRegion": bool(m.get("MultiRegion", False)),
        "policy": UNKNOWN if "policy" in k.unread else (k.policy or ""),
    }
    if m.get("CustomKeyStoreId"):
        props["customKeyStoreId"] = m["CustomKeyStoreId"]
    if "*" in k.unread:
        props.update(policy=UNKNOWN, enableKeyRotation=UNKNOWN)
    elif "enableKeyRotation" in k.unread:
        props["enableKeyRotation"] = UNKNOWN
    elif k.rotation is not None:
        props["enableKeyRotation"] = bool(k.rotation.get("KeyRotationEnabled"))
        if k.rotation.get("RotationPeriodInDays") is not None:
            props["rotationPeriodInDays"] = int(k.rotation["RotationPeriodInDays"])
    else:
        props["enableKeyRotation"] = False
    return props


def _grant(g: Mapping[str, Any], key_arn: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "keyId": key_arn,
        "grantId": str(g.get("GrantId", "")),
        "name": str(g.get("Name", "")),
        "granteePrincipal": str(g.get("GranteePrincipal", "")),
        "operations": list(g.get("Operations", [])),
    }
    if g.get("RetiringPrincipal"):
        props["retiringPrincipal"] = g["RetiringPrincipal"]
    c = g.get("Constraints") or {}
    block = {
        dst: c[src]
        for src, dst in (
            ("EncryptionContextSubset", "encryptionContextSubset"),
            ("EncryptionContextEquals", "encryptionContextEquals"),
        )
        if c.get(src)
    }
    if block:
        props["constraints"] = [block]
    return props


def _provider(account: str, region: str) -> RegisteredResource:
    """The region's AWS provider, pinned to the audited account (as a careful stack is)."""
    props = {"region": region, "allowedAccountIds": [account], "version": "audit"}
    return _resource(account, AwsType.PROVIDER, f"aws-{region}", props, "")


def build(inv: Inventory) -> list[Stack]:
    """One stack per region: its provider, tables, keys (aliases, grants) and the account's IAM.

    IAM is global: every region's stack holds it, so that stack rules see who may use each key.
    """
    from kmsguard.audit.iam_model import iam_items

    iam = iam_items(inv.iam, document_text) if inv.iam is not None else []
    stacks: list[Stack] = []
    for region in inv.regions:
        stack = Stack(region)
        provider = _provider(inv.account, region)
        stack.add(provider, f"arn:{inv.partition}:iam::{inv.account}:root")
        ref = f"{provider.urn}::{provider.id}"
        for k in (k for k in inv.keys if k.region == region):
            _add_key(stack, inv.account, k, ref)
        for t in (t for t in inv.tables if t.region == region):
            props = table_props(t, inv.aws_managed)
            stack.add(_resource(inv.account, AwsType.DYNAMODB_TABLE, t.name, props, ref), t.arn)
            for name, props in resource_policies(t):
                stack.add(
                    _resource(inv.account, AwsType.DYNAMODB_RESOURCE_POLICY, name, props, ref),
                    t.arn,
                )
        for type_, name, props, arn in iam:
            stack.add(_resource(inv.account, type_, name, props, ref), arn)
        stacks.append(stack)
    return stacks


def _add_key(stack: Stack, account: str, k: KeyData, ref: str) -> None:
    key_id = str(k.metadata.get("KeyId", ""))
    external = k.metadata.get("Origin") == "EXTERNAL"
    type_ = KMS_EXTERNAL_KEY if external else AwsType.KMS_KEY
    stack.add(_resource(account, type_, key_id, key_props(k), ref), k.arn)
    parsed = parse_arn(k.arn)
    for alias in k.aliases:
        alias_arn = str(replace(parsed, resource=alias)) if parsed is not None else ""
        props = {"name": alias, "arn": alias_arn, "targetKeyId": key_id}
        stack.add(_resource(account, AwsType.KMS_ALIAS, alias, props, ref), k.arn)
    if "grants" in k.unread or "*" in k.unread:
        return
    for g in k.grants or []:
        name = f"{key_id}/grant/{g.get('GrantId', '')}"
        stack.add(_resource(account, AwsType.KMS_GRANT, name, _grant(g, k.arn), ref), k.arn)
