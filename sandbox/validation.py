"""Length constraints of AWS's API models, checked before authorization to bound its work."""

from __future__ import annotations

from typing import Any

from sandbox import errors, served
from sandbox.errors import ErrorResponse
from sandbox.wire import ApiRequest

_SHOWN = 64  # characters of an offending value quoted back


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _too_long(value: Any, shape: Any) -> int | None:
    """The shape's maximum when `value` exceeds it (strings: characters, lists/maps: entries)."""
    limit = shape.metadata.get("max")
    if limit is None:
        return None
    if isinstance(value, str | list | dict) and len(value) > int(limit):
        return int(limit)
    return None


def _first_violation(value: Any, shape: Any, path: str) -> tuple[str, Any, int] | None:
    # Iterative walk: linear in the request, whatever its nesting.
    stack = [(value, shape, path)]
    while stack:
        value, shape, path = stack.pop()
        limit = _too_long(value, shape)
        if limit is not None:
            return path, value, limit
        kind = shape.type_name
        if kind == "structure" and isinstance(value, dict):
            for name, member in shape.members.items():
                if name in value:
                    stack.append((value[name], member, f"{path}.{_camel(name)}".lstrip(".")))
        elif kind == "list" and isinstance(value, list):
            for i, entry in enumerate(value):
                stack.append((entry, shape.member, f"{path}.{i + 1}.member"))
        elif kind == "map" and isinstance(value, dict):
            for key, entry in value.items():
                stack.append((key, shape.key, f"{path}.key"))
                stack.append((entry, shape.value, f"{path}.{key}.member"[:200]))
    return None


def refuse(request: ApiRequest) -> ErrorResponse | None:
    """A ValidationException for the first parameter longer than the API allows, else None."""
    if not served.is_served(request.service, request.action):
        return None
    shape = served.input_shape(request.service, request.action)
    if shape is None:
        return None
    found = _first_violation(request.params, shape, "")
    if found is None:
        return None
    path, value, limit = found
    shown = value if isinstance(value, str) else f"<{type(value).__name__}>"
    if len(shown) > _SHOWN:
        shown = shown[:_SHOWN] + "..."
    message = (
        f"1 validation error detected: Value '{shown}' at '{path}' failed to satisfy "
        f"constraint: Member must have length less than or equal to {limit}"
    )
    return errors.unprocessable(request, message)
