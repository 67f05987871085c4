"""Fixtures shared by test modules that run in one xdist group; the slow marker; hypothesis."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from tests.budgets import profile_name
from tests.packaging import dist as dist_module

settings.load_profile(profile_name())

# Each xdist_group on one worker, whatever the pytest version (see the module).
pytest_plugins = ["tests.xdist_groups"]

TESTS = Path(__file__).resolve().parent

# End-to-end modules: they start the demo, build wheels and virtualenvs, run every documented
# command as a user would, or load the sandbox; every test that starts a sandbox is slow too.
# `make test` runs them; `make test-fast` does not.
SLOW = (
    "journeys",
    "packaging/test_published_pack.py",
    "demo",
    "sandbox/test_sandbox_load.py",
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tryfirst: marked before `-m "not slow"` deselects. A test that starts a sandbox is slow too.
    for item in items:
        relative = Path(item.path).resolve().relative_to(TESTS).as_posix()
        in_slow_module = any(relative == s or relative.startswith(f"{s}/") for s in SLOW)
        if in_slow_module or item.get_closest_marker("sandbox") is not None:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def kmsguard_dist() -> dist_module.Dist:
    """The wheel and sdist of `make dist`; built at most once per test process."""
    return dist_module.build()
