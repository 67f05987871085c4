"""User programs in examples/ through kmsguard-preview: exact rules, exit codes, SARIF."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib import import_module
from pathlib import Path

import pytest

from kmsguard.contract import AwsType
from kmsguard.preview.__main__ import main
from kmsguard.preview.collect import UNKNOWN
from kmsguard.preview.program import run_project
from kmsguard.preview.project import load
from tests.preview.sarif_check import validated

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DEFERRED_KEY_ACCESS = ("stack-key-access-matches-declared", "advisory", "")
# Without the account pinned, who reads a table (same- or cross-account) waits for it.
DEFERRED_READERS = ("dynamodb-table-readers-match-declared", "advisory", "")

# example -> (exit code, {(policy, level, resource name or "" for the stack)})
EXPECTED: dict[str, tuple[int, set[tuple[str, str, str]]]] = {
    "compliant-table": (0, set()),
    "public-key-policy": (
        1,
        {
            ("kms-key-policy-no-public-principal", "mandatory", "shared"),
            # Anyone may decrypt: far more than the key policy's declared users.
            ("stack-key-access-matches-declared", "mandatory", ""),
        },
    ),
    "aws-managed-key": (
        1,
        {
            ("dynamodb-table-customer-managed-key", "mandatory", "sessions"),
            DEFERRED_READERS,
        },
    ),
    "unrecognised-invoke": (
        0,
        {
            ("kms-key-policy-declared", "advisory", "inventory-key"),
            DEFERRED_KEY_ACCESS,
            DEFERRED_READERS,
        },
    ),
    "own-component": (
        1,
        {
            ("kms-key-rotation-enabled", "mandatory", "audit-key"),
            ("kms-key-policy-declared", "advisory", "payments-key"),
            ("kms-key-policy-declared", "advisory", "audit-key"),
            DEFERRED_KEY_ACCESS,
            DEFERRED_READERS,
        },
    ),
}


def _run(tmp_path: Path, name: str, *extra: str) -> tuple[int, list[dict], Path]:
    out_json, out_sarif = tmp_path / "report.json", tmp_path / "report.sarif"
    code = main(
        [
            "--program",
            str(EXAMPLES / name),
            "--stack",
            "dev",
            "--json",
            str(out_json),
            "--sarif",
            str(out_sarif),
            *extra,
        ]
    )
    report = json.loads(out_json.read_text()) if out_json.exists() else []
    return code, report, out_sarif


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1] if urn else ""


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_reports_exactly_its_rules_in_json_and_sarif(name, tmp_path, capsys):
    code, report, sarif_path = _run(tmp_path, name)
    expected_code, expected = EXPECTED[name]
    assert code == expected_code, capsys.readouterr()
    (outcome,) = report
    found = {(v["policy"], v["level"], _name(v["urn"])) for v in outcome["violations"]}
    assert found == expected
    log = validated(sarif_path)
    (run,) = log.runs
    results = run.results or []
    assert len(results) == len(outcome["violations"])
    levels = {"mandatory": "error", "advisory": "warning"}
    rule_ids = [r.id for r in run.tool.driver.rules or []]
    for result, violation in zip(results, outcome["violations"], strict=True):
        assert result.rule_id == violation["policy"]
        assert rule_ids[result.rule_index] == violation["policy"]
        assert result.level.value == levels[violation["level"]]
        assert result.properties["urn"] == violation["urn"]
        assert result.properties["resourceType"] == violation["type"]
        uri = result.locations[0].physical_location.artifact_location.uri
        assert uri.startswith(f"examples/{name}/") and (ROOT / uri).is_file()
    printed = capsys.readouterr().out
    assert f"Previewing update (dev): {outcome['resources']} resources" in printed


def test_every_policy_is_a_rule_with_help_and_compliance_mapping(tmp_path):
    _, _, sarif_path = _run(tmp_path, "aws-managed-key")
    driver = validated(sarif_path).runs[0].tool.driver
    rules = {r.id: r for r in driver.rules or []}
    from policies.rules import POLICIES

    assert set(rules) == {p.name for p in POLICIES}
    cmk = rules["dynamodb-table-customer-managed-key"]
    assert cmk.short_description.text and cmk.full_description.text
    assert "customer managed key" in cmk.help.text  # the rule's remediation
    assert cmk.default_configuration.level == "error"
    assert cmk.properties["severity"] == "high" and cmk.properties["security-severity"] == "8.0"
    assert cmk.properties["framework"]["reference"] == "dynamodb-table-encrypted-kms"
    assert rules["kms-key-deletion-window"].default_configuration.level == "warning"


def test_location_is_the_line_that_registered_the_resource(tmp_path):
    _, _, sarif_path = _run(tmp_path, "own-component")
    results = validated(sarif_path).runs[0].results or []
    rotation = next(r for r in results if r.rule_id == "kms-key-rotation-enabled")
    physical = rotation.locations[0].physical_location
    source = EXAMPLES / "own-component" / "encrypted_table.py"
    line = source.read_text().splitlines().index("        self.key = aws.kms.Key(") + 1
    assert physical.artifact_location.uri == "examples/own-component/encrypted_table.py"
    assert physical.region.start_line == line
    logical = rotation.locations[0].logical_locations[0]
    assert logical.kind == AwsType.KMS_KEY and logical.fully_qualified_name.endswith("::audit-key")
    # A stack-level finding has no registration: it points at the entry file.
    deferred = next(r for r in results if r.rule_id == "stack-key-access-matches-declared")
    uri = deferred.locations[0].physical_location.artifact_location.uri
    assert uri == "examples/own-component/__main__.py"


def test_table_on_aws_managed_key_points_at_its_line_in_the_program(tmp_path):
    _, _, sarif_path = _run(tmp_path, "aws-managed-key")
    results = validated(sarif_path).runs[0].results or []
    (result,) = [r for r in results if r.rule_id == "dynamodb-table-customer-managed-key"]
    main_py = (EXAMPLES / "aws-managed-key" / "__main__.py").read_text().splitlines()
    assert result.locations[0].physical_location.region.start_line == (
        main_py.index("table = aws.dynamodb.Table(") + 1
    )


def test_unrecognised_invokes_are_listed_and_their_values_unknown(tmp_path, capsys):
    _, report, sarif_path = _run(tmp_path, "unrecognised-invoke")
    answered = ["aws:ec2/getVpc:getVpc", "aws:ssm/getParameter:getParameter"]
    assert report[0]["answeredAsUnknown"] == answered
    assert validated(sarif_path).runs[0].properties["answeredAsUnknown"] == answered
    out = capsys.readouterr().out
    assert "Invokes answered as unknown" in out
    assert all(f"    - {token}" in out for token in answered)
    project = load(EXAMPLES / "unrecognised-invoke", "dev", stack_required=True)
    run = run_project(project, preview=True)
    key = next(r for r in run.resources if r.type == AwsType.KMS_KEY)
    table = next(r for r in run.resources if r.type == AwsType.DYNAMODB_TABLE)
    assert key.inputs["tags"] == {"vpc": UNKNOWN, "owner": UNKNOWN}
    assert table.inputs["tags"] == {"vpc": UNKNOWN}


def test_secure_stack_values_are_secrets_with_unknown_values():
    project = load(EXAMPLES / "unrecognised-invoke", "dev", stack_required=True)
    assert project.secret_keys == ["inventory:apiToken"]
    run = run_project(project, preview=True)
    token = run.outputs["apiToken"]
    # The engine's secret wrapper around the engine's unknown sentinel.
    assert token["value"] == UNKNOWN and len(token) == 2


def test_identity_and_region_come_from_the_stack_config():
    project = load(EXAMPLES / "compliant-table", "dev", stack_required=True)
    run = run_project(project, preview=True)
    key = next(r for r in run.resources if r.type == AwsType.KMS_KEY)
    policy = json.loads(key.inputs["policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    provider = next(r for r in run.resources if r.type == "pulumi:providers:aws")
    assert provider.inputs["region"] == "eu-west-1"
    table = next(r for r in run.resources if r.type == AwsType.DYNAMODB_TABLE)
    assert table.inputs["name"] == "orders-dev"  # the stack file wins over the default
    assert "kmsguard:previewAccountId" not in project.program_config()


def test_config_option_overrides_the_stack_file(tmp_path):
    project = load(EXAMPLES / "compliant-table", "dev", stack_required=True)
    from kmsguard.preview.project import apply_overrides

    apply_overrides(project, {"kmsguard:previewAccountId": "999988887777", "tableName": "x1"})
    run = run_project(project, preview=True)
    key = next(r for r in run.resources if r.type == AwsType.KMS_KEY)
    assert "999988887777:root" in key.inputs["policy"]
    table = next(r for r in run.resources if r.type == AwsType.DYNAMODB_TABLE)
    assert table.inputs["name"] == "x1"


def test_the_one_allowed_account_is_the_callers_account():
    project = load(EXAMPLES / "public-key-policy", "dev", stack_required=True)
    assert "kmsguard:previewAccountId" not in project.config
    run = run_project(project, preview=True)
    key = next(r for r in run.resources if r.type == AwsType.KMS_KEY)
    assert "arn:aws:iam::444455556666:root" in key.inputs["policy"]


def test_placeholder_account_without_config():
    project = load(EXAMPLES / "public-key-policy", "dev", stack_required=True)
    project.config["aws:allowedAccountIds"] = '["444455556666", "777788889999"]'
    run = run_project(project, preview=True)
    key = next(r for r in run.resources if r.type == AwsType.KMS_KEY)
    assert "arn:aws:iam::123456789012:root" in key.inputs["policy"]


def test_policy_config_in_pulumis_format_applies_to_the_pack(tmp_path):
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({"all": "advisory"}))
    code, report, _ = _run(tmp_path, "public-key-policy", "--policy-config", str(config))
    assert code == 0
    assert [(v["policy"], v["level"]) for v in report[0]["violations"]] == [
        ("kms-key-policy-no-public-principal", "advisory"),
        ("stack-key-access-matches-declared", "advisory"),
    ]
    config.write_text(
        json.dumps({"all": "advisory", "kms-key-policy-no-public-principal": "mandatory"})
    )
    code, _, _ = _run(tmp_path, "public-key-policy", "--policy-config", str(config))
    assert code == 1
    config.write_text(
        json.dumps(
            {
                "kms-key-policy-no-public-principal": "disabled",
                "stack-key-access-matches-declared": {"enforcementLevel": "disabled"},
            }
        )
    )
    code, report, _ = _run(tmp_path, "public-key-policy", "--policy-config", str(config))
    assert code == 0 and report[0]["violations"] == []


SECOND_PACK = """
from pulumi_policy import EnforcementLevel, PolicyPack, ReportViolation, ResourceValidationPolicy


def owner_tag(args, report_violation: ReportViolation) -> None:
    if args.resource_type == "aws:kms/key:Key" and "owner" not in (args.props.get("tags") or {}):
        report_violation("every key names its owner in tags")


PolicyPack(
    name="acme-tags",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(
            name="kms-key-owner-tag", description="Keys carry an owner tag.", validate=owner_tag
        )
    ],
)
"""


def _second_pack(tmp_path: Path) -> Path:
    pack = tmp_path / "acme-tags"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\nversion: 2.0.0\n")
    (pack / "__main__.py").write_text(SECOND_PACK)
    return pack


def test_every_pack_given_runs_over_the_protocol(tmp_path, capsys):
    from kmsguard.preview.pack_dir import PACK_DIR

    pack = _second_pack(tmp_path)
    args = ["--policy-pack", str(PACK_DIR), "--policy-pack", str(pack)]
    code, report, sarif_path = _run(tmp_path, "compliant-table", *args)
    assert code == 1
    assert report[0]["packs"] == [
        {"name": "kmsguard-policies", "version": "0.1.0"},
        {"name": "acme-tags", "version": "2.0.0"},
    ]
    assert [(v["pack"], v["policy"], _name(v["urn"])) for v in report[0]["violations"]] == [
        ("acme-tags", "kms-key-owner-tag", "orders-key")
    ]
    out = capsys.readouterr().out
    assert "✅ kmsguard-policies@v0.1.0" in out and "❌ acme-tags@v2.0.0" in out
    rules = [r.id for r in validated(sarif_path).runs[0].tool.driver.rules or []]
    assert "kms-key-owner-tag" in rules and "kms-key-rotation-enabled" in rules
    # Only the second pack given: the kmsguard pack is not added behind the user's back.
    code, report, _ = _run(tmp_path, "compliant-table", "--policy-pack", str(pack))
    assert [p["name"] for p in report[0]["packs"]] == ["acme-tags"]


def test_module_runs_as_a_process_with_the_exit_code_of_the_verdict(tmp_path):
    out = tmp_path / "out.sarif"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kmsguard.preview",
            "--program",
            "examples/aws-managed-key",
            "--stack",
            "dev",
            "--sarif",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    assert "[mandatory]  [dynamodb-table-customer-managed-key]" in proc.stdout
    assert validated(out).runs[0].results[0].rule_id == "dynamodb-table-customer-managed-key"


def test_console_script_is_declared_for_the_cli():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, attr = scripts["kmsguard-preview"].partition(":")
    assert getattr(import_module(module), attr) is main


def test_every_example_has_a_project_and_a_stack_file():
    for name in EXPECTED:
        assert (EXAMPLES / name / "Pulumi.yaml").is_file()
        assert (EXAMPLES / name / "Pulumi.dev.yaml").is_file()
