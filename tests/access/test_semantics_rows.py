"""docs/semantics.md and the tests agree: every row is covered, every named row exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_ROW = re.compile(r"^\| `([a-z0-9-]+)` \|", re.MULTILINE)
_NAMED = re.compile(r"\brow\(\s*\"([a-z0-9-]+)\"\s*\)")


def documented() -> list[str]:
    return _ROW.findall((ROOT / "docs" / "semantics.md").read_text())


def named() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        for name in _NAMED.findall(path.read_text()):
            out.setdefault(name, []).append(path.name)
    return out


def test_rows_are_unique() -> None:
    rows = documented()
    assert rows, "docs/semantics.md has no rows"
    assert len(rows) == len(set(rows)), sorted(r for r in rows if rows.count(r) > 1)


def test_every_row_is_covered_by_a_test() -> None:
    missing = sorted(set(documented()) - set(named()))
    assert not missing, f"rows of docs/semantics.md no test names: {missing}"


def test_every_named_row_exists() -> None:
    unknown = {n: files for n, files in named().items() if n not in set(documented())}
    assert not unknown, f"tests name rows docs/semantics.md lacks: {unknown}"
