"""AWS managed policy documents, read from the data moto ships (no network, no hand copies)."""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from kmsguard.access.arn import managed_policy_name as managed_name

_DATA = Path(__file__).with_name("data") / "managed_policies_granting_decrypt.json"


def managed_policy_name(arn: str) -> str | None:
    """The policy name of an AWS managed policy ARN, None for any other ARN."""
    return managed_name(arn)


@lru_cache(maxsize=1)
def _documents() -> dict[str, Any]:
    spec = importlib.util.find_spec("moto")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "iam" / "aws_managed_policies.py"
    try:
        text = path.read_text(encoding="utf-8")
        # The module is one assignment of a JSON string; read it as data, without importing moto.
        body = text[text.index('"""') + 3 : text.rindex('"""')]
        data = json.loads(body)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def managed_policy_document(arn: str) -> dict[str, Any] | None:
    name = managed_policy_name(arn)
    if name is None:
        return None
    entry = _documents().get(name)
    doc = entry.get("Document") if isinstance(entry, dict) else None
    return doc if isinstance(doc, dict) else None


@lru_cache(maxsize=1)
def known_decrypt_on_all_keys() -> frozenset[str]:
    """Names of AWS managed policies known to allow kms:Decrypt on every key (data file)."""
    try:
        names = json.loads(_DATA.read_text(encoding="utf-8"))["policies"]
    except (OSError, ValueError, KeyError):
        return frozenset()
    return frozenset(n for n in names if isinstance(n, str))


def all_managed_policy_names() -> list[str]:
    return sorted(_documents())


def generate_known_list() -> list[str]:
    """Recompute the data file's list from moto's documents (used by a consistency test)."""
    from policies.document import decrypt_on_all_keys

    return sorted(
        name
        for name, entry in _documents().items()
        if isinstance(entry, dict) and decrypt_on_all_keys(entry.get("Document"))
    )
