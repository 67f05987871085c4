"""Checks the pack defers to verification read as deferrals, with the pack's own metadata."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.preview.sarif_check import validated

ROOT = Path(__file__).resolve().parents[2]
PIN = "aws:allowedAccountIds"


def preview(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kmsguard.preview", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _pack() -> tuple[str, dict[str, str]]:
    from policies.rules import METAS

    version = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())["version"]
    return str(version), {m.name: m.severity.value for m in METAS}


def test_an_unpinned_account_is_a_deferral_naming_the_pin(tmp_path: Path) -> None:
    out_json, out_sarif = tmp_path / "out.json", tmp_path / "out.sarif"
    run = preview(
        "--phase", "granted", "--preview", "--json", str(out_json), "--sarif", str(out_sarif)
    )
    assert run.returncode == 0, run.stderr
    text = run.stdout
    version, severities = _pack()
    [outcome] = json.loads(out_json.read_text(encoding="utf-8"))
    entries = outcome["violations"]
    assert entries and all(e["severity"] == severities[e["policy"]] for e in entries)
    assert {e["packVersion"] for e in entries} == {version}
    deferred = {e["policy"]: e for e in entries if e.get("deferred")}
    least = deferred["kms-key-policy-least-privilege"]
    assert least["level"] == "advisory" and least["severity"] == "high"
    assert least["decidedBy"] == [PIN]
    assert least["message"].startswith("deferred to verification: Key 'kms-protected-key': ")
    # A finding is not a deferral.
    protection = next(e for e in entries if e["policy"] == "dynamodb-table-deletion-protection")
    assert "deferred" not in protection

    assert "can't run policy" not in text and "v0.0.1" not in text
    assert f"kmsguard-policies@v{version}" in text
    assert "- [deferred]  [kms-key-policy-least-privilege]" in text
    assert f"(severity high, advisory until verified; pin {PIN} in the stack config" in text

    results = validated(out_sarif).runs[0].results or []
    props = next(r.properties for r in results if r.rule_id == "kms-key-policy-least-privilege")
    assert props is not None
    assert props["deferred"] is True and props["decidedBy"] == [PIN]
    assert props["pack"] == f"kmsguard-policies@{version}" and props["severity"] == "high"
    assert not any("can't run policy" in (r.message.text or "") for r in results)


def test_the_demo_stack_is_pinned_so_nothing_waits_for_the_account() -> None:
    # The stack config the demo deploys with (and the preview command it prints reads).
    run = preview("--stack", "sandbox", "--phase", "granted", "--preview", "--json")
    assert run.returncode == 0, run.stderr
    [outcome] = json.loads(run.stdout)
    assert [e for e in outcome["violations"] if e.get("deferred")] == []
    assert PIN not in json.dumps(outcome)


def typo_program() -> None:
    import pulumi_aws as aws

    aws.iam.Policy(
        "p",
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "kms:Decrpt", "Resource": "*"}],
            }
        ),
    )


def test_a_typo_in_an_identity_policy_is_an_advisory_over_grpc() -> None:
    from kmsguard.preview.analyzer import PolicyPackClient
    from kmsguard.preview.collect import run_program
    from kmsguard.preview.report import judge, render

    run = run_program({}, preview=True, program=typo_program)
    with PolicyPackClient(preview=True) as client:
        o = judge(run, [client], [client.describe()])
    [v] = [v for v in o.violations if v.policy_name == "iam-policy-no-kms-decrypt-on-all-keys"]
    assert (v.enforcement_level, v.severity, v.deferred) == ("advisory", "high", False)
    assert v.detail.startswith(
        "Policy 'p': Statement[0].Action: 'kms:Decrpt' matches no action in the IAM catalog"
    )
    assert "closest: kms:Decrypt" in v.detail
    assert "can't run" not in render([o])


def test_a_policy_without_a_severity_says_so_in_json() -> None:
    from kmsguard.preview.diagnostics import Violation

    v = Violation("p", "other-pack", "1.0.0", "m", "urn", "d", "advisory", "")
    assert v.to_json()["severity"] == "unspecified"
