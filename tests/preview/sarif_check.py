"""Validate a SARIF log with sarif-pydantic's model of SARIF 2.1.0, extra fields refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sarif_pydantic import Sarif


def _no_extras(node: Any, where: str) -> list[str]:
    """The model allows unknown fields; a misspelt property would pass it silently."""
    found: list[str] = []
    if isinstance(node, BaseModel):
        extra = node.model_extra or {}
        # `properties` bags are free-form by the standard; everything else must be modelled.
        found.extend(f"{where}.{k}" for k in extra)
        for name in type(node).model_fields:
            if name != "properties":
                found.extend(_no_extras(getattr(node, name), f"{where}.{name}"))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found.extend(_no_extras(item, f"{where}[{i}]"))
    elif isinstance(node, dict):
        for k, item in node.items():
            found.extend(_no_extras(item, f"{where}[{k}]"))
    return found


def validated(path: Path) -> Sarif:
    log = Sarif.model_validate_json(path.read_text(encoding="utf-8"))
    assert log.version == "2.1.0"
    assert log.schema_uri == "https://json.schemastore.org/sarif-2.1.0.json"
    assert _no_extras(log, "sarif") == []
    return log
