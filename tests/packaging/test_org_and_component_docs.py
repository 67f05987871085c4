"""docs/organization.md and docs/component.md agree with the pack, the provider and make."""

from __future__ import annotations

import json
import re

import kmsguard
from kmsguard.contract import COMPONENT_TYPE
from kmsguard.preview.pack_dir import REPO
from kmsguard.preview.policy_config import problems
from kmsguard.preview.settings_doc import END, START, render
from kmsguard.provider import KmsguardProvider

ORG = (REPO / "docs" / "organization.md").read_text(encoding="utf-8")
COMPONENT = (REPO / "docs" / "component.md").read_text(encoding="utf-8")


def test_settings_table_is_the_packs_schemas() -> None:
    table = ORG.split(START, 1)[1].split(END, 1)[0].lstrip("\n")
    assert table == render(), (
        "run: venv/bin/python -m kmsguard.preview.settings_doc --write docs/organization.md"
    )
    assert table.count("\n| `") >= 7


def test_example_policy_config_is_valid_for_the_pack() -> None:
    block = re.search(r"```json\n(.*?)```", ORG, re.S)
    assert block is not None
    data = json.loads(block.group(1))
    assert data and problems(data) == []


def test_every_version_named_is_the_one_version() -> None:
    versions = set(re.findall(r"\d+\.\d+\.\d+", ORG + COMPONENT))
    assert versions == {kmsguard.__version__}


def test_make_targets_and_paths_named_exist() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    commands = "".join(re.findall(r"```\n(.*?)```", ORG + COMPONENT, re.S))
    targets = re.findall(r"^make (\w+)", commands, re.M)
    assert {"dist", "pack", "preview"} <= set(targets)
    for target in targets:
        assert re.search(rf"^{target}:", makefile, re.M), target
    for path in ("provider/PulumiPlugin.yaml", "examples/component-yaml/Pulumi.yaml"):
        assert (REPO / path).is_file() and path.split("/")[0] in COMPONENT


def test_component_section_names_the_schemas_outputs_and_required_input() -> None:
    schema = json.loads(KmsguardProvider().schema or "{}")["resources"][COMPONENT_TYPE]
    for name in schema["properties"]:
        assert f"`{name}`" in COMPONENT, name
    (required,) = schema["requiredInputs"]
    assert f"only `{required}` is required" in COMPONENT


def test_settings_doc_renders_any_rule_and_refuses_a_document_without_markers(tmp_path) -> None:
    from pulumi_policy import EnforcementLevel, Severity

    from kmsguard.preview.settings_doc import main, splice
    from policies.meta import RuleMeta

    meta = RuleMeta(
        name="x-rule",
        description="d",
        enforcement_level=EnforcementLevel.ADVISORY,
        severity=Severity.LOW,
        remediation="r",
        config={"limit": {"type": "integer", "minimum": 1, "default": 2, "description": "a|b"}},
    )
    assert "| `x-rule` | `limit` | integer 1.. | `2` | a\\|b |" in render([meta])
    doc = tmp_path / "doc.md"
    doc.write_text("no markers\n")
    assert main(["--write", str(doc)]) == 2 and doc.read_text() == "no markers\n"
    assert splice(f"a\n{START}\nold\n{END}\nb", "new\n") == f"a\n{START}\nnew\n{END}\nb"
