"""KmsProtectedTable as a component provider: `pulumi package add` gives every language its SDK."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi.errors import InputPropertiesError
from pulumi.provider import ConstructResult
from pulumi.provider import main as serve_provider
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.server import ComponentInitError

from kmsguard import __version__
from kmsguard.component import KmsProtectedTable, validate_args
from kmsguard.contract import COMPONENT_TYPE, PROJECT
from kmsguard.settings import ConfigError

_NOT_PLAIN = (
    "must be a plain value known before deployment, not the output of another resource "
    "(the key policy is rendered from it at preview time, for the policy pack to judge)"
)


def _from_wire(value: Any) -> Any:
    """Numbers cross the wire as floats: whole ones are integers again, others stay invalid."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_from_wire(v) for v in value]
    return value


def _has_output(value: Any) -> bool:
    if isinstance(value, pulumi.Output):
        return True
    if isinstance(value, list):
        return any(_has_output(v) for v in value)
    if isinstance(value, dict):
        return any(_has_output(v) for v in value.values())
    return False


def _property_errors(err: ConfigError) -> list[Any]:
    keys = err.keys if len(err.keys) == len(err.problems) else [""] * len(err.problems)
    return [
        {"property_path": key, "reason": text} for key, text in zip(keys, err.problems, strict=True)
    ]


def check_inputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs as the component takes them; InputPropertiesError naming each bad one.

    The same validation as the Python program (kmsguard.settings), run before the component
    or any of its children is registered.
    """
    errors: list[Any] = []
    plain: dict[str, Any] = {}
    for key, value in inputs.items():
        if _has_output(value):
            errors.append({"property_path": key, "reason": f"{key} {_NOT_PLAIN}"})
        else:
            plain[key] = _from_wire(value)
    try:
        validate_args(plain)
    except ConfigError as err:
        # An argument already refused as an output is not "missing" as well.
        refused = {e["property_path"] for e in errors}
        errors += [e for e in _property_errors(err) if e["property_path"] not in refused]
    if errors:
        raise InputPropertiesError(f"invalid arguments for {COMPONENT_TYPE}", errors)
    return plain


class KmsguardProvider(ComponentProvider):
    """The SDK's component provider, with arguments checked before anything is registered.

    The SDK maps inputs to the component first (truncating 7.5 days to 7) and reports an
    exception from the constructor with its stack trace; here bad arguments become the
    engine's per-property errors instead.
    """

    def __init__(self) -> None:
        super().__init__([KmsProtectedTable], PROJECT, version=__version__)

    def construct(
        self,
        name: str,
        resource_type: str,
        inputs: Mapping[str, Any],
        options: pulumi.ResourceOptions | None = None,
    ) -> ConstructResult:
        if resource_type == COMPONENT_TYPE:
            inputs = check_inputs(inputs)
        try:
            return super().construct(name, resource_type, dict(inputs), options)
        except ComponentInitError as err:
            # Settings that contradict the resolved account (the test user listed as a key
            # user) are found before the component registers itself.
            if isinstance(err.inner, ConfigError):
                raise InputPropertiesError(
                    f"invalid arguments for {COMPONENT_TYPE}", _property_errors(err.inner)
                ) from None
            raise


def serve(args: Sequence[str] | None = None) -> None:
    """Run the provider's gRPC server; the engine passes its address as the first argument."""
    serve_provider(KmsguardProvider(), list(sys.argv[1:] if args is None else args))
