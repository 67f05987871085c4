"""Reading an AWS API request off the wire: credentials, service, region, action, parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs

Protocol = Literal["json", "query", "other"]

# SigV4: "AWS4-HMAC-SHA256 Credential=AKIA.../20261128/us-east-1/dynamodb/aws4_request, ..."
_CREDENTIAL = re.compile(r"Credential=([^/\s,]+)/(\d{8})/([^/\s,]+)/([^/\s,]+)/aws4_request")


@dataclass(frozen=True)
class ApiRequest:
    """What the authorization layer needs to know about one request."""

    access_key_id: str | None
    service: str
    region: str
    action: str
    protocol: Protocol
    params: dict[str, Any] = field(default_factory=dict)
    session_token: bool = False


def signing_service(environ: dict[str, Any]) -> str:
    """The service named by the signature's credential scope ('' when unsigned)."""
    match = _CREDENTIAL.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    return match.group(4).lower() if match else ""


def parse_request(environ: dict[str, Any], body: bytes, default_region: str) -> ApiRequest:
    """Parse credentials, service and operation. Never raises on odd input."""
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = _CREDENTIAL.search(auth)
    if match is None and "X-Amz-Credential" in query:
        match = _CREDENTIAL.search("Credential=" + query["X-Amz-Credential"][0])
    access_key_id = match.group(1) if match else None
    region = match.group(3) if match else default_region
    service = match.group(4).lower() if match else ""
    has_token = bool(environ.get("HTTP_X_AMZ_SECURITY_TOKEN") or "X-Amz-Security-Token" in query)

    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        # The parameters are read once the signature holds, by sandbox.canonical.
        action = target.rsplit(".", 1)[-1]
        return ApiRequest(access_key_id, service, region, action, "json", {}, has_token)

    content_type = environ.get("CONTENT_TYPE", "")
    form: dict[str, list[str]] = {}
    if content_type.startswith("application/x-www-form-urlencoded") and body:
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    merged = {k: v[0] for k, v in {**query, **form}.items() if v}
    action = merged.get("Action", "")
    protocol: Protocol = "query" if action else "other"
    return ApiRequest(access_key_id, service, region, action, protocol, merged, has_token)
