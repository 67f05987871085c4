"""SigV4 verification with botocore's signer: the request must be signed with the key's secret."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials
from botocore.utils import normalize_url_path

# AWS refuses a signature whose timestamp is more than 5 minutes from its clock.
MAX_SKEW = datetime.timedelta(minutes=5)
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True)
class SignedRequest:
    """What the signature covers, captured from the WSGI environ before the body is read."""

    method: str
    url: str
    authorization: str
    headers: tuple[tuple[str, str], ...]


class SignatureError(Exception):
    """The signature is absent, malformed, wrong or out of date; `message` is AWS's sentence."""

    def __init__(self, message: str, *, incomplete: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.incomplete = incomplete


def _header(environ: Mapping[str, Any], name: str) -> str | None:
    if name == "content-type":
        value = environ.get("CONTENT_TYPE")
    elif name == "content-length":
        value = environ.get("CONTENT_LENGTH")
    else:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
    return None if value is None else str(value)


def capture(environ: Mapping[str, Any]) -> SignedRequest:
    """The signed parts of a request, as the client sent them."""
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    match = _AUTH.match(authorization)
    headers: list[tuple[str, str]] = []
    if match:
        for name in match.group("signed").split(";"):
            value = _header(environ, name)
            if value is not None:
                headers.append((name, value))
    raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    path = raw.split("?", 1)[0] or str(environ.get("PATH_INFO") or "/")
    query = str(environ.get("QUERY_STRING") or "")
    host = str(environ.get("HTTP_HOST") or "localhost")
    url = f"http://{host}{path}" + (f"?{query}" if query else "")
    return SignedRequest(
        str(environ.get("REQUEST_METHOD", "POST")), url, authorization, tuple(headers)
    )


def verify(
    signed: SignedRequest,
    body: bytes,
    *,
    secret_access_key: str,
    now: datetime.datetime | None = None,
) -> None:
    """Raise SignatureError unless `signed` carries a valid SigV4 signature over `body`."""
    match = _AUTH.match(signed.authorization)
    if match is None:
        raise SignatureError(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            "parameters (AWS4-HMAC-SHA256).",
            incomplete=True,
        )
    parts = match.group("credential").split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SignatureError(
            "Credential should be scoped to a valid region, service and date.", incomplete=True
        )
    access_key_id, day, region, service, _ = parts
    headers = HTTPHeaders()
    for name, value in signed.headers:
        headers[name] = value
    stamp = headers.get("x-amz-date") or ""
    if not _DATE.fullmatch(stamp) or stamp[:8] != day:
        raise SignatureError(_MISMATCH)
    _check_time(stamp, now or datetime.datetime.now(datetime.UTC))
    if "host" not in headers:
        raise SignatureError("'Host' must be a signed header.")
    digest = hashlib.sha256(body).hexdigest()
    declared = headers.get("x-amz-content-sha256")
    if declared is not None and declared != digest:
        raise SignatureError(_MISMATCH)
    auth = SigV4Auth(Credentials(access_key_id, secret_access_key), service, region)
    request = AWSRequest(method=signed.method, url=signed.url, data=body)
    request.context["timestamp"] = stamp
    # The client's own list of signed headers, not botocore's choice of which to sign.
    canonical = "\n".join(
        [
            signed.method.upper(),
            quote(normalize_url_path(urlsplit(signed.url).path), safe="/~"),
            auth.canonical_query_string(request),
            auth.canonical_headers(headers) + "\n",
            auth.signed_headers(headers),
            digest,
        ]
    )
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, match.group("signature")):
        raise SignatureError(_MISMATCH)


def _check_time(stamp: str, now: datetime.datetime) -> None:
    try:
        signed_at = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
    except ValueError:  # digits that name no time (month 13, second 61)
        raise SignatureError(_MISMATCH) from None
    signed_at = signed_at.replace(tzinfo=datetime.UTC)
    shown = now.strftime("%Y%m%dT%H%M%SZ")
    if signed_at < now - MAX_SKEW:
        earliest = (now - MAX_SKEW).strftime("%Y%m%dT%H%M%SZ")
        raise SignatureError(
            f"Signature expired: {stamp} is now earlier than {earliest} ({shown} - 5 min.)"
        )
    if signed_at > now + MAX_SKEW:
        latest = (now + MAX_SKEW).strftime("%Y%m%dT%H%M%SZ")
        raise SignatureError(
            f"Signature not yet current: {stamp} is still later than {latest} ({shown} + 5 min.)"
        )
