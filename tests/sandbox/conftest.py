"""One sandbox per test process for the modules whose tests need no account of their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox import SandboxInfo, running


@pytest.fixture(scope="session")
def sb() -> Iterator[SandboxInfo]:
    """Shared: every test names its users, keys and tables uniquely (helpers.unique).

    Modules that attack the sandbox itself (fuzzing, size limits) or need a fresh account
    define their own `sb`, which takes precedence.
    """
    with running() as info:
        yield info
