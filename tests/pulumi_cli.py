"""The real-CLI tests: skipped where `pulumi` is absent, unless the run requires the CLI (CI)."""

from __future__ import annotations

import os
import shutil

import pytest

# CI sets it after installing the CLI, so a broken install fails those tests instead of
# skipping them silently.
REQUIRE_ENV = "KMSGUARD_REQUIRE_PULUMI_CLI"


def needs_pulumi_cli(what: str) -> pytest.MarkDecorator:
    """Skip with the reason unless `pulumi` is on PATH or the run requires it."""
    absent = shutil.which("pulumi") is None and os.environ.get(REQUIRE_ENV) != "1"
    return pytest.mark.skipif(
        absent,
        reason=f"the pulumi CLI is not on PATH (it cannot be installed here); this runs {what} "
        f"where it is (CI sets {REQUIRE_ENV}=1 and installs it)",
    )
