"""AWS-shaped error responses: JSON protocol (DynamoDB, KMS) and query protocol (IAM, STS)."""

from __future__ import annotations

import json
import uuid
import zlib
from dataclasses import dataclass
from xml.sax.saxutils import escape

from sandbox.wire import ApiRequest

_JSON_CONTENT_TYPE = {
    "dynamodb": "application/x-amz-json-1.0",
    "dynamodbstreams": "application/x-amz-json-1.0",
    "kms": "application/x-amz-json-1.1",
}
# DynamoDB (Streams too) qualifies error types with its namespace; KMS does not.
_JSON_TYPE_PREFIX = {
    "dynamodb": "com.amazonaws.dynamodb.v20120810#",
    "dynamodbstreams": "com.amazonaws.dynamodb.v20120810#",
}
_XMLNS = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}
_STATUS_TEXT = {400: "Bad Request", 403: "Forbidden", 413: "Request Entity Too Large"}


@dataclass(frozen=True)
class ErrorResponse:
    """A complete HTTP response, ready for a WSGI start_response."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    code: str
    message: str

    @property
    def status_line(self) -> str:
        return f"{self.status} {_STATUS_TEXT.get(self.status, 'Error')}"


def json_error(service: str, code: str, message: str, status: int = 400) -> ErrorResponse:
    request_id = str(uuid.uuid4())
    body = json.dumps({"__type": _JSON_TYPE_PREFIX.get(service, "") + code, "message": message})
    data = body.encode("utf-8")
    headers = (
        ("Content-Type", _JSON_CONTENT_TYPE.get(service, "application/x-amz-json-1.1")),
        ("x-amzn-RequestId", request_id),
        ("x-amzn-ErrorType", code),
        # DynamoDB clients (the Go SDK among them) verify this checksum when present.
        ("x-amz-crc32", str(zlib.crc32(data))),
    )
    return ErrorResponse(status, headers, data, code, message)


def query_error(service: str, code: str, message: str, status: int = 403) -> ErrorResponse:
    request_id = str(uuid.uuid4())
    xmlns = _XMLNS.get(service, "")
    body = (
        f'<ErrorResponse xmlns="{xmlns}"><Error><Type>Sender</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    headers = (("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id))
    return ErrorResponse(status, headers, body.encode("utf-8"), code, message)


def access_denied(request: ApiRequest, message: str) -> ErrorResponse:
    if request.protocol == "json":
        return json_error(request.service, "AccessDeniedException", message, 400)
    return query_error(request.service, "AccessDenied", message, 403)


def unrecognized_client(request: ApiRequest) -> ErrorResponse:
    message = "The security token included in the request is invalid."
    if request.protocol == "json":
        return json_error(request.service, "UnrecognizedClientException", message, 400)
    return query_error(request.service, "InvalidClientTokenId", message, 403)


def missing_token(request: ApiRequest) -> ErrorResponse:
    message = "Request is missing Authentication Token"
    if request.protocol == "json":
        return json_error(request.service, "MissingAuthenticationTokenException", message, 400)
    return query_error(request.service, "MissingAuthenticationToken", message, 403)


def expired_token(request: ApiRequest) -> ErrorResponse:
    message = "The security token included in the request is expired"
    if request.protocol == "json":
        return json_error(request.service, "ExpiredTokenException", message, 400)
    return query_error(request.service, "ExpiredToken", message, 403)


def malformed_policy(message: str) -> ErrorResponse:
    return json_error("kms", "MalformedPolicyDocumentException", message, 400)


def forbidden_path() -> ErrorResponse:
    message = "The moto management API is not exposed by the kmsguard sandbox."
    return json_error("", "AccessDeniedException", message, 403)


def bad_signature(request: ApiRequest, message: str, *, incomplete: bool = False) -> ErrorResponse:
    """DynamoDB and KMS: InvalidSignatureException (400); IAM and STS: SignatureDoesNotMatch."""
    if request.protocol == "json":
        code = "IncompleteSignatureException" if incomplete else "InvalidSignatureException"
        return json_error(request.service, code, message, 400)
    code = "IncompleteSignature" if incomplete else "SignatureDoesNotMatch"
    return query_error(request.service, code, message, 403 if not incomplete else 400)


def unprocessable(request: ApiRequest, message: str) -> ErrorResponse:
    """A request the emulator could not carry out: a client error, never a 5xx."""
    if request.protocol == "query":
        return query_error(request.service, "ValidationError", message, 400)
    return json_error(request.service, "ValidationException", message, 400)


def unknown_service(request: ApiRequest, served: tuple[str, ...]) -> ErrorResponse:
    message = (
        f"The kmsguard sandbox does not serve {request.service or 'unsigned'!r} requests; "
        f"it serves {', '.join(served)}."
    )
    if request.protocol == "query":
        return query_error(request.service, "InvalidAction", message, 400)
    return json_error(request.service, "UnknownOperationException", message, 400)


def unknown_operation(request: ApiRequest) -> ErrorResponse:
    message = f"The kmsguard sandbox does not serve {request.service}:{request.action or '?'}."
    if request.protocol == "query":
        return query_error(request.service, "InvalidAction", message, 400)
    return json_error(request.service, "UnknownOperationException", message, 400)
