"""Builders for policy documents and scenarios shared by the access tests."""

from __future__ import annotations

from typing import Any

ACCT = "111122223333"
OTHER = "444455556666"
REGION = "us-east-1"
KEY = f"arn:aws:kms:{REGION}:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY = f"arn:aws:kms:{REGION}:{ACCT}:key/ffffffff-0000-0000-0000-000000000000"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCT}:table/orders"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
BOB = f"arn:aws:iam::{ACCT}:user/bob"
ROOT = f"arn:aws:iam::{ACCT}:root"
ROLE = f"arn:aws:iam::{ACCT}:role/app/KeyUser"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/KeyUser/i-0123"
ADMIN_ROLE = f"arn:aws:iam::{ACCT}:role/KeyAdmin"
EVE = f"arn:aws:iam::{OTHER}:user/eve"
OTHER_ROOT = f"arn:aws:iam::{OTHER}:root"
DDB = f"dynamodb.{REGION}.amazonaws.com"
VIA_DDB = {"kms:ViaService": DDB}


def stmt(effect: str = "Allow", action: Any = "kms:*", resource: Any = "*", **extra: Any) -> dict:
    out: dict[str, Any] = {"Effect": effect}
    if "not_action" in extra:
        out["NotAction"] = extra.pop("not_action")
    else:
        out["Action"] = action
    if "not_resource" in extra:
        out["NotResource"] = extra.pop("not_resource")
    else:
        out["Resource"] = resource
    for k in ("sid", "principal", "not_principal", "condition"):
        if k in extra:
            name = "".join(p.capitalize() for p in k.split("_"))
            out[name] = extra.pop(k)
    assert not extra, extra
    return out


def doc(*statements: Any, version: str = "2012-10-17") -> dict:
    return {"Version": version, "Statement": list(statements)}


def aws(*principals: str) -> dict:
    return {"AWS": principals[0] if len(principals) == 1 else list(principals)}


ROOT_DELEGATION = stmt(sid="EnableRootAccountIamDelegation", principal=aws(ROOT))


def scenario(
    principal: str = ALICE,
    action: str = "kms:Decrypt",
    resource: str = KEY,
    identity: list | None = None,
    resource_policy: dict | None = None,
    context: dict | None = None,
) -> dict:
    return {
        "principal": principal,
        "action": action,
        "resource": resource,
        "context": context or {},
        "identity_policies": identity or [],
        "resource_policy": resource_policy,
    }


def row(name: str) -> str:
    """Names the docs/semantics.md row a test covers (checked by test_semantics_rows)."""
    return name
