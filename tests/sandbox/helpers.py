"""Building blocks of sandbox tests: users with policies, keys, tables, expected refusals."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kmsguard.keypolicy import KeyPolicyRoles, key_policy_json
from sandbox import SandboxInfo


@dataclass
class User:
    name: str
    arn: str
    access_key_id: str
    secret_access_key: str

    def client(self, sb: SandboxInfo, service: str) -> Any:
        return sb.client(service, self.access_key_id, self.secret_access_key)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_user(sb: SandboxInfo, managed: tuple[str, ...] = (), inline: Any = None) -> User:
    iam = sb.client("iam")
    name = unique("user")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    for policy_arn in managed:
        iam.attach_user_policy(UserName=name, PolicyArn=policy_arn)
    if inline is not None:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=json.dumps(inline))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return User(name, arn, key["AccessKeyId"], key["SecretAccessKey"])


def allow(actions: str | list[str], resource: str = "*", effect: str = "Allow") -> dict[str, Any]:
    statement = {"Effect": effect, "Action": actions, "Resource": resource}
    return {"Version": "2012-10-17", "Statement": [statement]}


def make_key(sb: SandboxInfo, users: tuple[str, ...] = (), **roles: Any) -> dict[str, Any]:
    kms_roles = KeyPolicyRoles(account_id=sb.account_id, region=sb.region, users=users, **roles)
    return sb.client("kms").create_key(Policy=key_policy_json(kms_roles))["KeyMetadata"]


def make_table(sb: SandboxInfo, sse: dict[str, Any] | None, name: str | None = None) -> str:
    name = name or unique("table")
    extra = {"SSESpecification": sse} if sse is not None else {}
    sb.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    return name


def cmk_table(sb: SandboxInfo, key: dict[str, Any]) -> str:
    return make_table(sb, {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]})


def denied(call: Any) -> Any:
    """The error response of a call that must fail."""
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response


def item(pk: str, **attributes: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, **{k: {"S": v} for k, v in attributes.items()}}
