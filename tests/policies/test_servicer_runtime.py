"""The pack's servicer configures the Pulumi runtime as the SDK does, reading less each time."""

from __future__ import annotations

import json
from typing import Any

import pulumi_policy.policy as sdk
import pytest

from policies import servicer
from tests.policies.test_servicer import RESOURCES, SDK_SERVICER, _request, _servicer

RUNTIME_ENV = ("PULUMI_PROJECT", "PULUMI_STACK", "PULUMI_DRY_RUN", "PULUMI_ORGANIZATION")
WITH_ORG = {
    "PULUMI_PROJECT": "shop",
    "PULUMI_STACK": "prod",
    "PULUMI_DRY_RUN": "true",
    "PULUMI_ORGANIZATION": "acme",
    "PULUMI_CONFIG": json.dumps({"aws:region": "eu-west-1"}),
}


def _runtime_after(cls: type) -> tuple[Any, ...]:
    """The Pulumi runtime's settings and config once an Analyze call has configured them."""
    import contextvars

    import pulumi

    def run() -> tuple[Any, ...]:
        _servicer(cls).Analyze(_request(*RESOURCES[7], provider=False), None)
        return (
            pulumi.get_project(),
            pulumi.get_stack(),
            pulumi.runtime.is_dry_run(),
            pulumi.get_organization(),
            pulumi.Config("aws").get("region"),
        )

    # A context of its own: the settings live in context variables.
    return contextvars.copy_context().run(run)


@pytest.mark.parametrize(
    "env",
    [
        WITH_ORG,
        {k: v for k, v in WITH_ORG.items() if k != "PULUMI_ORGANIZATION"},
        {**WITH_ORG, "PULUMI_DRY_RUN": "false"},
        {"PULUMI_PROJECT": "shop", "PULUMI_CONFIG": "{}"},  # no stack: settings left alone
    ],
)
def test_the_runtime_is_configured_as_the_sdk_configures_it(monkeypatch, env):
    for name in (*RUNTIME_ENV, "PULUMI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _runtime_after(servicer.SharedConversionServicer) == _runtime_after(SDK_SERVICER)
    if env is WITH_ORG:
        assert _runtime_after(servicer.SharedConversionServicer) == (
            "shop",
            "prod",
            True,
            "acme",
            "eu-west-1",
        )


def test_the_settings_signature_is_read_once(monkeypatch):
    import inspect

    for name, value in WITH_ORG.items():
        monkeypatch.setenv(name, value)
    calls = []
    real = inspect.signature

    def counting(obj: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(obj)
        return real(obj, *args, **kwargs)

    monkeypatch.setattr(inspect, "signature", counting)
    monkeypatch.setattr(sdk, "signature", counting)
    servicer.takes_organization.cache_clear()
    for _ in range(3):
        _runtime_after(servicer.SharedConversionServicer)
    assert len(calls) == 1
    calls.clear()
    for _ in range(3):
        _runtime_after(SDK_SERVICER)
    assert len(calls) == 3  # the SDK's own servicer reads it on every request


class _OtherRuntimeSetup(SDK_SERVICER):  # type: ignore[misc, valid-type]
    """An SDK configuring the runtime otherwise than the pack's servicer re-expresses."""

    def _configure_runtime_settings(self) -> None:
        return None


def test_an_sdk_configuring_the_runtime_otherwise_is_served_by_its_own_servicer():
    reason = servicer.unsupported_reason(_OtherRuntimeSetup)
    assert reason == "the SDK's _configure_runtime_settings is not the one this pack re-expresses"
