"""Each finding's code and witness reach the preview's JSON and SARIF; the diagnostics do not
change, and a diagnostic the pack recorded nothing for is reported without a code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kmsguard.findings import FINGERPRINT, Finding, Reported
from kmsguard.findings_file import FindingsFile, encode
from kmsguard.preview.__main__ import main
from kmsguard.preview.diagnostics import Violation, joined
from tests.preview.sarif_check import validated

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "public-key-policy"
PUBLIC = "kms-key-policy-no-public-principal"
PARTNER = "arn:aws:iam::999999999999:root"


def _preview(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "kmsguard.preview", *args],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


Run = subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Run]:
    tmp = tmp_path_factory.mktemp("codes")
    run = _preview(tmp, "--json", str(tmp / "r.json"), "--sarif", str(tmp / "r.sarif"))
    assert run.returncode == 1, run.stderr
    return tmp, run


def test_json_carries_each_finding_code_and_witness(
    reports: tuple[Path, Run],
) -> None:
    tmp, run = reports
    (outcome,) = json.loads((tmp / "r.json").read_text())
    public = next(v for v in outcome["violations"] if v["policy"] == PUBLIC)
    assert public["code"] == "public-access"
    assert public["witness"]["principal"] == PARTNER
    assert "kms:Decrypt" in public["witness"]["actions"]
    # Every diagnostic of the kmsguard pack has its record: none is left without a code.
    assert all(v["code"] or v.get("findings") for v in outcome["violations"])
    assert "findings file" not in run.stderr
    # The private directory the pack wrote into is gone.
    assert list(tmp.glob("kmsguard-findings-*")) == []


def test_sarif_carries_the_code_witness_and_a_fingerprint(
    reports: tuple[Path, Run],
) -> None:
    tmp, _ = reports
    results = validated(tmp / "r.sarif").runs[0].results or []
    public = next(r for r in results if r.rule_id == PUBLIC)
    assert public.properties is not None
    props = dict(public.properties)
    assert props["code"] == "public-access" and props["witness"]["principal"] == PARTNER
    assert public.partial_fingerprints and FINGERPRINT in public.partial_fingerprints
    prints = [r.partial_fingerprints[FINGERPRINT] for r in results if r.partial_fingerprints]
    assert len(prints) == len(set(prints)) == len(results)


def test_the_text_report_shows_what_the_diagnostics_say_and_no_code(tmp_path: Path) -> None:
    run = _preview(tmp_path)
    assert run.returncode == 1, run.stderr
    assert "a principal outside account 444455556666" in run.stdout
    assert "public-access" not in run.stdout and "witness" not in run.stdout


def _violation(policy: str, message: str, urn: str = "") -> Violation:
    return Violation(policy, "pack", "1", f"d\n{message}", urn, "d", "mandatory", "high")


def test_a_diagnostic_without_a_record_is_reported_without_a_code() -> None:
    warnings: list[str] = []
    file = FindingsFile(warn=warnings.append)
    f = Finding(PUBLIC, "public-access", "Key 'k'", "open", {"principal": PARTNER})
    with open(file.path, "w", encoding="ascii") as handle:
        handle.write("not a record\n")
        handle.write(encode(PUBLIC, "", "Key 'k': open", [Reported(f)]))
    recorded = _violation(PUBLIC, "Key 'k': open")
    unrecorded = _violation(PUBLIC, "Key 'j': open")  # same rule, another text
    elsewhere = _violation(PUBLIC, "Key 'k': open", urn="urn:other")  # same text, another URN
    out = joined(file, [recorded, unrecorded, elsewhere])
    file.close()
    assert out[0].to_json()["code"] == "public-access"
    assert out[0].to_json()["witness"] == {"principal": PARTNER}
    for v in out[1:]:
        assert v.to_json()["code"] is None and v.to_json()["witness"] is None
        assert v.to_json()["message"] == f"{v.detail}"
    assert len(warnings) == 1 and "line 1" in warnings[0]


def test_a_deferral_joins_by_the_reason_the_pack_gave_not_the_sdk_wording() -> None:
    file = FindingsFile(warn=lambda _: None)
    f = Finding(PUBLIC, "key-account-unknown", "Key 'k'", "later", {"namedAccounts": ["1"]})
    sent = "deferred to verification: Key 'k': later"
    file.path.write_text(encode(PUBLIC, "", sent, [Reported(f, deferred=True)]), "ascii")
    sdk = f"can't run policy '{PUBLIC}' from policy pack 'pack@v0.0.1' during preview: {sent}"
    (v,) = joined(file, [_violation(PUBLIC, sdk)])
    file.close()
    assert v.findings == (Reported(f, deferred=True),)


HOSTILE_PACK = """
import os
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

def validate(args, report):
    if args.resource_type != "aws:kms/key:Key":
        return
    path = os.environ.get("KMSGUARD_FINDINGS_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write('garbage\\n{"v": 1, "policy": "hostile", "urn": "", "mess')
    report("Key: refused")

PolicyPack(
    name="hostile",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[ResourceValidationPolicy(name="hostile", description="d", validate=validate)],
)
"""


def test_a_pack_writing_garbage_still_gets_its_report_and_each_bad_line_named_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\nversion: 1.0.0\n")
    (pack / "__main__.py").write_text(HOSTILE_PACK)
    program = EXAMPLE.parent / "compliant-table"
    out = tmp_path / "r.json"
    args = ["--program", str(program), "--stack", "dev", "--policy-pack", str(pack)]
    assert main([*args, "--json", str(out), "--update"]) == 1
    err = capsys.readouterr().err
    assert err.count("findings file line 1: not JSON") == 1, err
    assert err.count("findings file line 2: truncated") == 1, err
    (outcome,) = json.loads(out.read_text())
    (v,) = [v for v in outcome["violations"] if v["policy"] == "hostile"]
    assert v["message"] == "Key: refused" and v["code"] is None and v["witness"] is None
