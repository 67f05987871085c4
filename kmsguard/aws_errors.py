"""What AWS answered when it refused a call: a botocore ClientError's code and message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Read by shape (ClientError keeps the parsed answer in `response`), so that the domain
# package needs no botocore; any other exception is named by its class.


def _error(exc: BaseException) -> Mapping[str, Any] | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, Mapping):
        return None
    error = response.get("Error", {})
    return error if isinstance(error, Mapping) else {}


def error_code(exc: BaseException) -> str:
    """AWS's error code (`Unknown` when the answer has none), else the exception's class name
    (a BotoCoreError such as EndpointConnectionError)."""
    error = _error(exc)
    if error is None:
        return type(exc).__name__
    return str(error.get("Code", "Unknown"))


def error_message(exc: BaseException) -> str:
    """AWS's error message (empty when the answer has none), else the exception's text."""
    error = _error(exc)
    if error is None:
        return str(exc)
    return str(error.get("Message", ""))
