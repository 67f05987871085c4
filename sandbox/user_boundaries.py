"""Permission boundaries on IAM users (moto keeps them for roles only)."""

from __future__ import annotations

import uuid
from typing import Any
from xml.sax.saxutils import escape

from moto.iam.models import iam_backends

from sandbox import errors
from sandbox.errors import ErrorResponse
from sandbox.settings import ACCOUNT_ID
from sandbox.wire import ApiRequest

SERVED = frozenset({"PutUserPermissionsBoundary", "DeleteUserPermissionsBoundary"})
_XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"


def handles(request: ApiRequest) -> bool:
    return request.service == "iam" and request.action in SERVED


def _iam() -> Any:
    return iam_backends[ACCOUNT_ID]["aws"]


def apply(request: ApiRequest) -> tuple[int, bytes] | ErrorResponse:
    """Carry out Put/DeleteUserPermissionsBoundary (under the layer's lock)."""
    iam = _iam()
    name = str(request.params.get("UserName") or "")
    user = iam.users.get(name)
    if user is None:
        return errors.query_error(
            "iam", "NoSuchEntity", f"The user with name {name} cannot be found.", status=404
        )
    if request.action == "PutUserPermissionsBoundary":
        arn = str(request.params.get("PermissionsBoundary") or "")
        if arn not in iam.managed_policies:
            return errors.query_error(
                "iam", "NoSuchEntity", f"Policy {arn} does not exist or is not attachable.", 404
            )
        # On moto's own user object, so --state-dir snapshots keep it.
        user.permissions_boundary_arn = arn
    else:
        user.permissions_boundary_arn = None
    body = (
        f'<{request.action}Response xmlns="{_XMLNS}"><ResponseMetadata>'
        f"<RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></{request.action}Response>"
    ).encode()
    return 200, body


def after(request: ApiRequest) -> None:
    """CreateUser's PermissionsBoundary, which moto ignores."""
    if request.service != "iam" or request.action != "CreateUser":
        return
    arn = request.params.get("PermissionsBoundary")
    user = _iam().users.get(str(request.params.get("UserName") or ""))
    if user is not None and isinstance(arn, str) and arn:
        user.permissions_boundary_arn = arn


def shown(request: ApiRequest, body: bytes) -> bytes:
    """GetUser and CreateUser answer with the user's boundary, as AWS does (moto omits it)."""
    if request.service != "iam" or request.action not in ("GetUser", "CreateUser"):
        return body
    user = _iam().users.get(str(request.params.get("UserName") or ""))
    arn = boundary_arn(user) if user is not None else None
    end = body.rfind(b"</User>")
    if arn is None or end < 0 or b"<PermissionsBoundary>" in body:
        return body
    element = (
        "<PermissionsBoundary><PermissionsBoundaryType>Policy</PermissionsBoundaryType>"
        f"<PermissionsBoundaryArn>{escape(arn)}</PermissionsBoundaryArn></PermissionsBoundary>"
    ).encode()
    return body[:end] + element + body[end:]


def boundary_arn(user: Any) -> str | None:
    value = getattr(user, "permissions_boundary_arn", None)
    return value if isinstance(value, str) and value else None
