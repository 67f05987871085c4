"""Pulumi.yaml: no project key the program treats as optional is required by the Pulumi CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kmsguard.contract import CONFIG_KEYS, PROJECT
from kmsguard.settings import DEFAULTS, parse_settings

ROOT = Path(__file__).resolve().parents[2]


def project_config(text: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(text).get("config") or {}
    return config


def keys_the_cli_requires(text: str) -> list[str]:
    """Project keys without a default or value: `pulumi preview/up` stops when a stack lacks one.

    The same rule as the CLI's own check (`mergeConfig` in pulumi/pulumi
    sdk/go/common/workspace/config.go): a key of the project's namespace (no namespace, or
    `<project>:`) declared without `default` and without `value` is "missing configuration value".
    """
    required = []
    for key, declared in project_config(text).items():
        namespace, _, name = key.rpartition(":")
        if namespace not in ("", PROJECT) or not isinstance(declared, dict):
            continue
        if "default" not in declared and "value" not in declared:
            required.append(name)
    return required


def declared_defaults() -> dict[str, Any]:
    config = project_config((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))
    return {key: declared["default"] for key, declared in config.items()}


def test_no_project_key_is_required_by_the_cli() -> None:
    assert keys_the_cli_requires((ROOT / "Pulumi.yaml").read_text(encoding="utf-8")) == []


def test_the_check_sees_a_typed_key_without_a_default_as_the_cli_does() -> None:
    text = """
name: kmsguard
runtime: python
config:
  aws:region: us-east-1
  tableName: {type: string, default: t}
  kmsguard:keyUsers: {type: array, items: {type: string}, default: []}
  keyAdministrators:
    type: array
    items: {type: string}
  kmsguard:other: {type: string}
  pinned: {value: x}
"""
    assert keys_the_cli_requires(text) == ["keyAdministrators", "other"]


def test_declared_defaults_are_the_programs_defaults() -> None:
    defaults = declared_defaults()
    assert set(defaults) <= set(CONFIG_KEYS)
    assert parse_settings(defaults) == DEFAULTS


def test_keys_left_undeclared_are_documented_for_users() -> None:
    project_text = (ROOT / "Pulumi.yaml").read_text(encoding="utf-8")
    docs = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    undeclared = [key for key in CONFIG_KEYS if key not in declared_defaults()]
    for key in undeclared:
        # Named in a comment of Pulumi.yaml, and in the docs' config table as not declared.
        assert f"#   {key}" in project_text
        row = next(line for line in docs.splitlines() if line.startswith(f"| `{key}` |"))
        assert "not declared in `Pulumi.yaml`" in row
