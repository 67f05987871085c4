"""Tests mirror the pack: every rule module has its own test module, which imports it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "policies" / "rules"
TESTS = ROOT / "tests" / "policies" / "rules"


def rule_modules() -> list[str]:
    return sorted(p.stem for p in RULES.glob("*.py") if not p.stem.startswith("_"))


def test_every_rule_has_its_own_test_module_that_imports_it() -> None:
    rules = rule_modules()
    assert len(rules) >= 16, rules
    missing, not_imported = [], []
    for name in rules:
        module = TESTS / f"test_{name}.py"
        if not module.is_file():
            missing.append(f"tests/policies/rules/test_{name}.py")
        elif not re.search(rf"^from policies\.rules import {name}\b", module.read_text(), re.M):
            not_imported.append(str(module.relative_to(ROOT)))
    assert missing == [], "each rule needs its own test module"
    assert not_imported == [], "a rule's test module imports the rule it tests"


def test_every_rule_test_module_names_a_rule() -> None:
    orphans = sorted(
        p.name
        for p in TESTS.glob("test_*.py")
        if p.stem.removeprefix("test_") not in rule_modules()
    )
    assert orphans == []
