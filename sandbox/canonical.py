"""The one reading of a request: decoded once, authorized as read, and handed to moto as read."""

from __future__ import annotations

import io
import json
import zlib
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sandbox import errors, limits
from sandbox.errors import ErrorResponse
from sandbox.wire import ApiRequest

# The JSON APIs' X-Amz-Target prefix and content type (botocore's models). Another prefix
# (DynamoDB's 2011 API) would reach other moto backends: it is refused.
JSON_SERVICES = {
    "dynamodb": ("DynamoDB_20120810", "application/x-amz-json-1.0"),
    "kms": ("TrentService", "application/x-amz-json-1.1"),
    "dynamodbstreams": ("DynamoDBStreams_20120810", "application/x-amz-json-1.0"),
}
# APIs signed with another API's signing name, told apart by their X-Amz-Target prefix.
SIGNED_AS = {"dynamodbstreams": "dynamodb"}
QUERY_SERVICES = frozenset({"iam", "sts"})
# DynamoDB nests attributes up to 32 levels ("Nested attribute depth: 32"); each level is two
# JSON levels ({"M": {...}}), plus the request's own few. Deeper is refused before any reader
# that recurses (moto's, the item size count) sees it.
MAX_DEPTH = 100
_FORM = "application/x-www-form-urlencoded; charset=utf-8"
# The only client headers moto receives (credential scope, date, token). Whatever else moto
# would read is set by the sandbox: a Host like `x.us-west-2.amazonaws.com` or a User-Agent
# `region/...` would choose moto's region, Content-Encoding its body.
_KEPT = ("HTTP_AUTHORIZATION", "HTTP_X_AMZ_DATE", "HTTP_X_AMZ_SECURITY_TOKEN")


class Refused(Exception):
    """The request cannot be read as the service would read it; `response` says why."""

    def __init__(self, response: ErrorResponse) -> None:
        super().__init__(response.message)
        self.response = response


def _serialization(request: ApiRequest, message: str) -> ErrorResponse:
    if request.protocol == "query":
        return errors.query_error(request.service, "ValidationError", message, 400)
    return errors.json_error(request.service, "SerializationException", message, 400)


def decoded_body(request: ApiRequest, environ: dict[str, Any], body: bytes) -> bytes:
    """The body as the service reads it: gzip inflated (up to the request limit), else as sent."""
    encoding = str(environ.get("HTTP_CONTENT_ENCODING", "")).strip()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        message = (
            f"Content-Encoding {encoding[:64]!r} is not supported; send the body as is or "
            "with Content-Encoding: gzip."
        )
        raise Refused(errors.unprocessable(request, message))
    limit = limits.request_limit(request.service)
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        # Bounded: a small body that inflates past the limit is refused, never held whole.
        data = inflater.decompress(body, limit + 1)
        complete = inflater.eof and not inflater.unused_data
    except zlib.error:
        raise Refused(_serialization(request, "The gzip body is not valid gzip.")) from None
    if len(data) > limit:
        raise Refused(limits.too_large(request, limit))
    if not complete:
        raise Refused(_serialization(request, "The gzip body is truncated or has trailing data."))
    return data


def _json_params(request: ApiRequest, body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        params = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # nesting past the parser
        params = None
    if not isinstance(params, dict):
        raise Refused(_serialization(request, "The request body must be one JSON object (UTF-8)."))
    if _depth_over(params, MAX_DEPTH):
        message = f"The request nests JSON deeper than {MAX_DEPTH} levels."
        raise Refused(errors.unprocessable(request, message))
    return params


def _depth_over(value: Any, limit: int) -> bool:
    # Iterative, linear in the document: whatever reads it later may recurse.
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return False


def _query_params(request: ApiRequest, environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    pairs = parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
    content_type = str(environ.get("CONTENT_TYPE", ""))
    if body:
        if not content_type.startswith("application/x-www-form-urlencoded"):
            message = "The body of a query API request must be application/x-www-form-urlencoded."
            raise Refused(_serialization(request, message))
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(_serialization(request, "The form body is not UTF-8.")) from None
        pairs += parse_qsl(text, keep_blank_values=True)
    params: dict[str, Any] = {}
    for name, value in pairs:
        if name in params:
            # The URL and the body (or one of them twice) naming a parameter is two readings.
            message = f"Parameter {name[:64]!r} is given more than once; give it once."
            raise Refused(_serialization(request, message))
        params[name] = value
    return params


def read(request: ApiRequest, environ: dict[str, Any], body: bytes) -> ApiRequest:
    """The request's action and parameters as the service reads them; raise Refused."""
    data = decoded_body(request, environ, body)
    if request.service in JSON_SERVICES:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        head, _, action = target.partition(".")
        service = next(
            (
                api
                for api, signer in SIGNED_AS.items()
                if signer == request.service and JSON_SERVICES[api][0] == head
            ),
            request.service,
        )
        prefix, _ = JSON_SERVICES[service]
        if head != prefix or not action or "." in action:
            shown = target[:64] or "none"
            message = f"X-Amz-Target must be {prefix}.<Operation> (got {shown})."
            refusal = errors.json_error(request.service, "UnknownOperationException", message)
            raise Refused(refusal)
        return ApiRequest(
            request.access_key_id,
            service,
            request.region,
            action,
            "json",
            _json_params(request, data),
            request.session_token,
        )
    if request.service in QUERY_SERVICES:
        params = _query_params(request, environ, data)
        action = str(params.get("Action", ""))
        return ApiRequest(
            request.access_key_id,
            request.service,
            request.region,
            action,
            "query",
            params,
            request.session_token,
        )
    return request


def moto_environ(environ: dict[str, Any], request: ApiRequest) -> dict[str, Any]:
    """The WSGI environ moto runs: built from the canonical request, not from the client's bytes."""
    if request.service in JSON_SERVICES:
        prefix, content_type = JSON_SERVICES[request.service]
        data = json.dumps(request.params).encode("utf-8")
        headers = {"HTTP_X_AMZ_TARGET": f"{prefix}.{request.action}"}
    else:
        content_type = _FORM
        data = urlencode(request.params).encode("utf-8")
        headers = {}
    built: dict[str, Any] = {
        key: value for key, value in environ.items() if key.startswith("wsgi.") or key in _KEPT
    }
    built.update(
        {
            "REQUEST_METHOD": "POST",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/",
            "RAW_URI": "/",
            "REQUEST_URI": "/",
            "QUERY_STRING": "",
            "SERVER_NAME": str(environ.get("SERVER_NAME", "localhost")),
            "SERVER_PORT": str(environ.get("SERVER_PORT", "80")),
            "SERVER_PROTOCOL": str(environ.get("SERVER_PROTOCOL", "HTTP/1.1")),
            "REMOTE_ADDR": str(environ.get("REMOTE_ADDR", "127.0.0.1")),
            "HTTP_HOST": "localhost",
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.input": io.BytesIO(data),
            "wsgi.input_terminated": False,
            **headers,
        }
    )
    return built
