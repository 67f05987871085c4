"""Finding codes: each one a rule emits is declared in its META, documented, and tested."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from typing import Any

import pytest

from kmsguard.findings import CODE, Finding, deferral, message, to_json
from policies.meta import RuleMeta

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "policies" / "rules"
TESTS = ROOT / "tests" / "policies" / "rules"
DOC = ROOT / "docs" / "policy-pack.md"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the SDK's unknown value


def _meta(name: str) -> RuleMeta:
    meta = importlib.import_module(f"policies.rules.{name}").META
    assert isinstance(meta, RuleMeta)
    return meta


def _rules() -> list[str]:
    return sorted(p.stem for p in RULES.glob("*.py") if not p.stem.startswith("_"))


NAMES = _rules()


def _emitted(path: Path, shared: bool = False) -> set[str]:
    """The codes a module passes as literals to `META.finding(...)` (its own rule's), or with
    `shared` to `findings.meta.finding(...)` (whichever rule runs the helper)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "finding"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            continue
        owner = node.func.value
        is_shared = isinstance(owner, ast.Attribute) and owner.attr == "meta"
        if is_shared == shared:
            out.add(node.args[0].value)
    return out


def _imported_rule_modules(source: Path) -> list[Path]:
    names = re.findall(r"^from policies\.rules\.(\w+) import", source.read_text(), re.M)
    return [RULES / f"{n}.py" for n in names]


def _documented() -> dict[str, set[str]]:
    """rule -> codes, from the codes table of docs/policy-pack.md (`| rule | code | ... |`)."""
    out: dict[str, set[str]] = {}
    for m in re.finditer(r"^\| `([a-z0-9-]+)` \| `([a-z0-9-]+)` \|", DOC.read_text(), re.M):
        out.setdefault(m.group(1), set()).add(m.group(2))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_declared_codes_are_kebab_case_with_a_one_line_description(name: str) -> None:
    for code, description in _meta(name).codes.items():
        assert CODE.match(code), code
        assert description.strip() and "\n" not in description, code


@pytest.mark.parametrize("name", NAMES)
def test_every_emitted_code_is_declared_and_every_declared_code_emitted(name: str) -> None:
    # Shared helpers report for whichever rule calls them: their codes count for each caller.
    source = RULES / f"{name}.py"
    emitted = _emitted(source) | _emitted(source, shared=True)
    for module in _imported_rule_modules(source):
        emitted |= _emitted(module, shared=True)
    declared = set(_meta(name).codes)
    assert emitted - declared == set(), "emitted but not declared"
    assert declared - emitted == set(), "declared but never emitted"


def test_every_rule_declares_its_codes() -> None:
    assert [n for n in NAMES if not _meta(n).codes] == []


@pytest.mark.parametrize("name", NAMES)
def test_every_declared_code_is_asserted_by_the_rule_tests(name: str) -> None:
    tests = (TESTS / f"test_{name}.py").read_text()
    untested = [c for c in _meta(name).codes if f'"{c}"' not in tests]
    assert untested == [], f"no test in tests/policies/rules/test_{name}.py asserts these"


@pytest.mark.parametrize("name", NAMES)
def test_the_codes_table_lists_each_rule_code(name: str) -> None:
    assert _documented().get(_meta(name).name, set()) == set(_meta(name).codes)


def test_the_codes_table_names_only_rules_of_the_pack() -> None:
    assert set(_documented()) <= {_meta(n).name for n in _rules()}


def test_an_undeclared_code_is_refused_when_the_finding_is_made() -> None:
    meta = _meta("kms_key_deletion_window")
    with pytest.raises(ValueError, match="declares no finding code 'no-such-code'"):
        meta.finding("no-such-code", "Key 'k'", "x")


@pytest.mark.parametrize("code", ["Deletion", "a_b", "a--b", "-a", "a-", "", "a b", "ä"])
def test_a_code_is_kebab_case(code: str) -> None:
    with pytest.raises(ValueError, match="not kebab-case"):
        Finding("r", code, "Key 'k'", "x")


def test_the_renderer_forms() -> None:
    f = Finding(
        "kms-key-deletion-window", "deletion-window-below-minimum", "Key 'k'", "d", {"a": 1}
    )
    assert message(f) == "Key 'k': d"
    assert message(Finding("r", "c", "", "d")) == "d"
    assert to_json(f) == {
        "rule": "kms-key-deletion-window",
        "code": "deletion-window-below-minimum",
        "resource": "Key 'k'",
        "message": "Key 'k': d",
        "witness": {"a": 1},
    }
    assert to_json(Finding("r", "c", "", "d", urn="u"), deferred=True)["deferred"] is True
    assert deferral(["a", "b"], []) == "deferred to verification: a; b"
    assert deferral(["a"], ["w"]) == "advisory: w; deferred to verification: a"
    assert deferral([], ["w"]) == "advisory: w"


def test_the_findings_file_changes_no_diagnostic_and_keys_each_as_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kmsguard.contract import AwsType
    from kmsguard.findings_file import ENV, decode
    from policies.rules import kms_key_rotation_enabled as rotation
    from tests.policies.helpers import key_props, resource_args, run_rule

    def both() -> list[Any]:
        off = run_rule(rotation, resource_args(AwsType.KMS_KEY, key_props(enableKeyRotation=False)))
        unknown = run_rule(
            rotation, resource_args(AwsType.KMS_KEY, key_props(enableKeyRotation=UNKNOWN))
        )
        return [off.messages, off.deferred, unknown.messages, unknown.deferred]

    monkeypatch.delenv(ENV, raising=False)
    without = both()
    target = tmp_path / "findings.jsonl"
    monkeypatch.setenv(ENV, str(target))
    assert both() == without
    (violation, later) = [decode(line) for line in target.read_text().splitlines()]
    name = rotation.META.name
    assert violation[0] == (name, "", without[0][0][0])
    assert [r.finding.code for r in violation[1]] == ["rotation-disabled"]
    assert later[0] == (name, "", deferral(without[3], []))
    assert [(r.finding.code, r.deferred) for r in later[1]] == [("rotation-unknown", True)]
