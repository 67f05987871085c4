"""The engine's unknown value: how recorded values carry it, and invokes answered with it."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2

UNKNOWN = rpc.UNKNOWN  # "04da6b54-80e4-46f7-96ec-b56ff0331ba9", the engine's unknown sentinel


def unknown_invoke_response(token: str, args: Mapping[str, Any]) -> Any:
    """An invoke no offline preview can answer: its result fields unknown.

    Output-form and plain invokes arrive alike. A plain invoke builds its typed result and
    checks each field's type, so string fields get a marker string holding the engine's
    unknown sentinel (any resource input containing it is recorded as unknown, as the engine
    records an interpolation of an unknown) and other fields are absent; fields named like
    arguments echo them. Without the SDK's result type the whole result is unknown.
    """
    types = invoke_result_types(token)
    if types is None:
        return resource_pb2.ResourceInvokeResponse(unknown=True)
    ret: dict[str, Any] = {}
    for name, typ in types.items():
        if name in args:
            ret[name] = args[name]
        elif typ is str:
            ret[name] = f"{UNKNOWN}:{token}.{name}"
    result = struct_pb2.Struct()
    result.update(ret)
    return resource_pb2.ResourceInvokeResponse(**{"return": result})


def with_unknowns(value: Any) -> Any:
    """Strings carrying the unknown sentinel (whole or interpolated) become unknown."""
    if isinstance(value, str):
        return UNKNOWN if UNKNOWN in value.lower() else value
    if isinstance(value, dict):
        return {k: with_unknowns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [with_unknowns(v) for v in value]
    return value


def invoke_result_types(token: str) -> dict[str, Any] | None:
    """Wire names and types of the result of `pkg:module/fn:fn`, from the installed SDK."""
    import importlib
    import re

    from pulumi import _types

    parts = token.split(":")
    if len(parts) != 3 or not re.fullmatch(r"[a-z0-9-]+", parts[0]):
        return None
    pkg, mod, fn = parts
    mod = mod.split("/", 1)[0]
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", fn).lower()
    try:
        package = importlib.import_module(f"pulumi_{pkg.replace('-', '_')}")
        module = getattr(package, mod) if mod and mod != "index" else package
        func = getattr(module, snake)
        result = inspect.signature(func).return_annotation
        if isinstance(result, str):
            result = getattr(module, result)
        if not isinstance(result, type) or not _types.is_output_type(result):
            return None
        return dict(_types.output_type_types(result))
    except (ImportError, AttributeError, TypeError, ValueError, NameError):
        return None
