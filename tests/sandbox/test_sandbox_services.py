"""The registry of services: every service a request is read under has hooks of its own."""

from __future__ import annotations

from sandbox import services, streams
from sandbox.services.base import every_action_on_anything
from sandbox.settings import SERVICES


def test_every_served_service_has_hooks_of_its_own() -> None:
    # A service served without its hooks would be authorized as its action on "*", whatever
    # resource the request names.
    assert set(services.REGISTRY) == {*SERVICES, streams.SERVICE}
    for name, service in services.REGISTRY.items():
        assert service.name == name
        assert service.checks is not every_action_on_anything, name
        assert services.of(name) is service


def test_a_name_without_hooks_is_checked_as_its_action_on_anything() -> None:
    assert services.of("s3").checks is every_action_on_anything
