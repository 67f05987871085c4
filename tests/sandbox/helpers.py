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


def table_names(ddb: Any) -> set[str]:
    """Every table a DynamoDB client sees, over all pages (a worker's sandbox holds many)."""
    return {n for page in ddb.get_paginator("list_tables").paginate() for n in page["TableNames"]}


def denied(call: Any) -> Any:
    """The error response of a call that must fail."""
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response


def item(pk: str, **attributes: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, **{k: {"S": v} for k, v in attributes.items()}}


JSON_TARGETS = {"dynamodb": ("DynamoDB_20120810", "1.0"), "kms": ("TrentService", "1.1")}


@dataclass(frozen=True)
class RawAnswer:
    status: int
    body: dict[str, Any]
    text: str

    @property
    def code(self) -> str:
        """The error code of a refusal ('' for a success)."""
        if self.status < 300:
            return ""
        kind = str(self.body.get("__type", ""))
        if kind:
            return kind.rsplit("#", 1)[-1]
        start = self.text.find("<Code>")
        return self.text[start + 6 : self.text.find("</Code>")] if start >= 0 else "?"


def raw_call(
    sb: SandboxInfo,
    service: str,
    action: str,
    params: dict[str, Any],
    *,
    creds: tuple[str, str] | None = None,
    gzip_body: bool = False,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    region: str | None = None,
) -> RawAnswer:
    """One signed request built by hand: the encodings and forms an SDK would not send."""
    import gzip
    import urllib.error
    import urllib.parse
    import urllib.request

    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    access_key, secret = creds or (sb.admin_access_key_id, sb.admin_secret_access_key)
    all_headers = dict(headers or {})
    if body is None and service in JSON_TARGETS:
        prefix, version = JSON_TARGETS[service]
        all_headers.setdefault("X-Amz-Target", f"{prefix}.{action}")
        all_headers.setdefault("Content-Type", f"application/x-amz-json-{version}")
        body = json.dumps(params).encode()
    elif body is None:
        all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        body = urllib.parse.urlencode(
            {"Action": action, "Version": "2010-05-08" if service == "iam" else "2011-06-15"}
            | params
        ).encode()
    if gzip_body:
        body = gzip.compress(body)
        all_headers["Content-Encoding"] = "gzip"
    url = sb.endpoint_url + "/" + (f"?{query}" if query else "")
    request = botocore.awsrequest.AWSRequest("POST", url, data=body, headers=all_headers)
    auth = botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(access_key, secret), service, region or sb.region
    )
    auth.add_auth(request)
    prepared = request.prepare()
    http = urllib.request.Request(
        prepared.url, data=body, headers=dict(prepared.headers), method="POST"
    )
    try:
        with urllib.request.urlopen(http, timeout=30) as answer:
            status, text = answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode("utf-8", "replace")
    try:
        parsed = json.loads(text) if text.startswith("{") else {}
    except ValueError:
        parsed = {}
    return RawAnswer(status, parsed if isinstance(parsed, dict) else {}, text)
