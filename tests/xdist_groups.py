"""Keeps each `xdist_group` on one worker under `--dist loadgroup` with any pytest version.

pytest-xdist names a test's group by appending `@<group>` to the test's private `_nodeid`;
pytest 9.2 reads test ids from another attribute, so the suffix is lost and a group's tests
spread over the workers, each building the group's session fixtures (virtualenvs, wheels,
sandboxes) again. This plugin appends the suffix where pytest now reads it.
"""

from __future__ import annotations

import pytest


def group_of(item: pytest.Item) -> str | None:
    """The item's group name, as pytest-xdist joins several: sorted, with `_`."""
    names = {
        str(m.args[0] if m.args else m.kwargs.get("name", "default"))
        for m in item.iter_markers("xdist_group")
    }
    return "_".join(sorted(names)) if names else None


@pytest.hookimpl(trylast=True)  # after pytest-xdist's own renaming
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        group = group_of(item)
        if group is None or item.nodeid.endswith(f"@{group}"):
            continue
        # Only pytest versions whose ids xdist's renaming misses have a structured id.
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(f"{item.nodeid}@{group}")  # type: ignore[attr-defined]
