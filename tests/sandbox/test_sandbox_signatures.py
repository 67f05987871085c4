"""SigV4 as AWS checks it: the secret, the body and the time are all part of the signature."""

from __future__ import annotations

import datetime
from typing import Any

import botocore.auth
import pytest

from sandbox import SandboxInfo
from sandbox.sigv4 import SignatureError, SignedRequest, verify
from tests.sandbox.helpers import allow, denied, make_user

pytestmark = pytest.mark.sandbox

# Each service's answer: JSON services (DynamoDB, KMS) and query services (IAM, STS) differ.
CALLS: dict[str, tuple[str, Any, str, int]] = {
    "dynamodb": ("dynamodb", lambda c: c.list_tables(), "InvalidSignatureException", 400),
    "kms": ("kms", lambda c: c.list_keys(), "InvalidSignatureException", 400),
    "iam": ("iam", lambda c: c.list_users(), "SignatureDoesNotMatch", 403),
    "sts": ("sts", lambda c: c.get_caller_identity(), "SignatureDoesNotMatch", 403),
}


@pytest.mark.parametrize("service", sorted(CALLS))
def test_wrong_secret_is_refused(sb: SandboxInfo, service: str) -> None:
    name, call, code, status = CALLS[service]
    client = sb.client(name, sb.admin_access_key_id, "not-the-admin-secret")
    response = denied(lambda: call(client))
    assert response["Error"]["Code"] == code
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert "signature we calculated does not match" in response["Error"]["Message"]
    call(sb.client(name))  # the right secret still works


def test_wrong_secret_of_a_created_user_is_refused(sb: SandboxInfo) -> None:
    user = make_user(sb, inline=allow("dynamodb:ListTables"))
    user.client(sb, "dynamodb").list_tables()
    forged = sb.client("dynamodb", user.access_key_id, user.secret_access_key + "x")
    assert denied(forged.list_tables)["Error"]["Code"] == "InvalidSignatureException"


@pytest.mark.parametrize("service", ["dynamodb", "iam"])
def test_tampered_body_is_refused(sb: SandboxInfo, service: str) -> None:
    name, call, code, _ = CALLS[service]
    client = sb.client(name)

    def tamper(request: Any, **_: Any) -> None:
        # After signing: same length, last byte changed.
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        request.body = body[:-1] + (b"X" if body[-1:] != b"X" else b"Y")

    client.meta.events.register("before-send", tamper)
    assert denied(lambda: call(client))["Error"]["Code"] == code


@pytest.mark.parametrize("service", sorted(CALLS))
def test_expired_timestamp_is_refused(
    sb: SandboxInfo, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, call, code, _ = CALLS[service]
    client = sb.client(name)
    past = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=6)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: past)
    response = denied(lambda: call(client))
    assert response["Error"]["Code"] == code
    assert response["Error"]["Message"].startswith("Signature expired:")


def test_session_credentials_need_their_token(sb: SandboxInfo) -> None:
    import json

    iam = sb.client("iam")
    caller = make_user(sb, inline=allow("sts:AssumeRole"))
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": caller.arn}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName="signed-role", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName="signed-role",
        PolicyName="list",
        PolicyDocument=json.dumps(allow("dynamodb:ListTables")),
    )
    creds = caller.client(sb, "sts").assume_role(
        RoleArn=role["Role"]["Arn"], RoleSessionName="signed"
    )["Credentials"]
    key, secret = creds["AccessKeyId"], creds["SecretAccessKey"]
    sb.client("dynamodb", key, secret, creds["SessionToken"]).list_tables()
    without = sb.client("dynamodb", key, secret)
    assert denied(without.list_tables)["Error"]["Code"] == "UnrecognizedClientException"
    wrong = sb.client("dynamodb", key, secret, "forged-token")
    assert denied(wrong.list_tables)["Error"]["Code"] == "UnrecognizedClientException"


def _signed(body: bytes, secret: str, when: datetime.datetime) -> SignedRequest:
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:4599/",
        data=body,
        headers={"X-Amz-Target": "DynamoDB_20120810.ListTables"},
    )
    auth = botocore.auth.SigV4Auth(Credentials("AKIAEXAMPLE", secret), "dynamodb", "us-east-1")
    original = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: when.replace(tzinfo=None)
    try:
        auth.add_auth(request)
    finally:
        botocore.auth.get_current_datetime = original
    sent = [(k.lower(), str(v)) for k, v in request.headers.items()]
    headers = (("host", "127.0.0.1:4599"), *sent)
    signed = next(v for k, v in headers if k == "authorization")
    names = signed.split("SignedHeaders=")[1].split(",")[0].split(";")
    return SignedRequest(
        "POST", request.url, signed, tuple((k, v) for k, v in headers if k in names)
    )


def test_verifier_accepts_exactly_what_botocore_signed() -> None:
    now = datetime.datetime.now(datetime.UTC)
    signed = _signed(b"{}", "secret", now)
    verify(signed, b"{}", secret_access_key="secret", now=now)
    for body, secret, at in (
        (b"{ }", "secret", now),
        (b"{}", "secret2", now),
        (b"{}", "secret", now + datetime.timedelta(minutes=6)),
        (b"{}", "secret", now - datetime.timedelta(minutes=6)),
    ):
        with pytest.raises(SignatureError):
            verify(signed, body, secret_access_key=secret, now=at)
    # A declared payload hash that is not the body's is a forgery, whatever the signature.
    forged = SignedRequest(
        signed.method,
        signed.url,
        signed.authorization,
        (*signed.headers, ("x-amz-content-sha256", "0" * 64)),
    )
    with pytest.raises(SignatureError):
        verify(forged, b"{}", secret_access_key="secret", now=now)
    with pytest.raises(SignatureError) as info:
        verify(
            SignedRequest("POST", signed.url, "AWS4-HMAC-SHA256 x", ()), b"", secret_access_key="s"
        )
    assert info.value.incomplete


_ARABIC_DAY = "".join(chr(0x0660 + int(c)) for c in "20260101")


@pytest.mark.parametrize(
    ("day", "stamp"),
    [
        ("20260101", "20260101T000000Z\n"),  # a newline after the stamp
        ("20261301", "20261301T000000Z"),  # month 13
        ("20260101", "20260101T000061Z"),  # second 61
        (_ARABIC_DAY, f"{_ARABIC_DAY}T000000Z"),  # digits, but not ASCII ones
    ],
)
def test_a_date_that_names_no_time_is_a_signature_error(day: str, stamp: str) -> None:
    authorization = (
        f"AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/{day}/us-east-1/dynamodb/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}"
    )
    signed = SignedRequest(
        "POST", "http://127.0.0.1:4599/", authorization, (("host", "h"), ("x-amz-date", stamp))
    )
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    with pytest.raises(SignatureError) as info:
        verify(signed, b"{}", secret_access_key="s", now=now)
    assert "signature we calculated does not match" in info.value.message


# Run in a child process: the app is moto in-process, whose globals must not leak into others.
_PLAN_ONLY_AFTER_AUTHENTICATION = r"""
import json
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.test import Client
from sandbox import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, DEFAULT_REGION
from dataclasses import replace
from sandbox import services
from sandbox.server import build_app

app = build_app(DEFAULT_REGION)
planned = []
dynamodb = services.REGISTRY["dynamodb"]
services.REGISTRY["dynamodb"] = replace(
    dynamodb,
    checks=lambda principal, request: planned.append(request.action) or dynamodb.checks(
        principal, request
    ),
)

def describe_table(secret):
    body = json.dumps({"TableName": "no-such-table"})
    headers = {
        "X-Amz-Target": "DynamoDB_20120810.DescribeTable",
        "Content-Type": "application/x-amz-json-1.0",
    }
    request = AWSRequest("POST", "http://localhost/", data=body, headers=headers)
    signer = SigV4Auth(Credentials(ADMIN_ACCESS_KEY_ID, secret), "dynamodb", DEFAULT_REGION)
    signer.add_auth(request)
    response = Client(app).post("/", data=body, headers=dict(request.headers.items()))
    return response.get_data(as_text=True)

forged = describe_table("not-the-admin-secret")
after_forged = list(planned)
genuine = describe_table(ADMIN_SECRET_ACCESS_KEY)
print(json.dumps({"forged": forged, "after_forged": after_forged, "genuine": genuine,
                  "after_genuine": planned}))
"""


def test_a_forged_request_is_refused_before_anything_it_names_is_read() -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    proc = subprocess.run(
        [sys.executable, "-c", _PLAN_ONLY_AFTER_AUTHENTICATION],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "InvalidSignatureException" in seen["forged"]
    assert seen["after_forged"] == []  # no resource or policy read for a forged request
    assert "ResourceNotFoundException" in seen["genuine"]
    assert seen["after_genuine"] == ["DescribeTable"]  # the genuine one is planned as before
