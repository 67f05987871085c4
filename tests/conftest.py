"""Fixtures shared by test modules that run in one xdist group."""

from __future__ import annotations

import pytest

from tests.packaging import dist as dist_module


@pytest.fixture(scope="session")
def kmsguard_dist() -> dist_module.Dist:
    """The wheel and sdist of `make dist`; built at most once per test process."""
    return dist_module.build()
