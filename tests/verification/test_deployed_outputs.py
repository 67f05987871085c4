"""On one deployment of the program that no test changes: its outputs are what the verifier
reads, and the CLI's edges (closed stdout, report directories, bad endpoint or credentials,
outputs naming what is not deployed)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kmsguard.contract import Output
from tests.verification.conftest import Deployed
from tests.verification.test_sandbox_runs import (
    REPO,
    assert_clean,
    cli,
    problems,
    put_existing,
    verify,
)
from verification.outputs import parse_outputs

# One worker runs the module, so its one deployment is made once.
pytestmark = [pytest.mark.sandbox, pytest.mark.xdist_group("verification-deployed-once")]

OUTPUT_NAMES = {value for name, value in vars(Output).items() if name.isupper()}


def documented_outputs() -> dict[str, str]:
    """Each output of the table in docs/configuration.md, and whether the verifier reads it."""
    text = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    section = text.split("## Stack outputs", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| `")]
    return {name: read.strip() for names, read in rows for name in re.findall(r"`(\w+)`", names)}


def test_the_program_exports_every_output_the_verifier_reads(unchanged_stack: Deployed) -> None:
    # The names come from the program's own run. Stacks deployed by earlier versions hold the
    # documented names, so one renamed in the program or in the contract fails here (and one
    # the program stops exporting fails every test that reads it).
    exported = set(unchanged_stack.outputs)
    assert documented_outputs() == dict.fromkeys(exported, "yes")
    assert exported == OUTPUT_NAMES
    facts = parse_outputs(unchanged_stack.outputs)
    unset = [f.name for f in dataclasses.fields(facts) if getattr(facts, f.name) is None]
    assert unset == [], "declared facts the verifier would not check"


def test_stdout_closed_by_its_reader_still_writes_the_report(
    unchanged_stack: Deployed, tmp_path: Path
) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(unchanged_stack.outputs))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {k: v for k, v in unchanged_stack.sb.environment().items() if k != "AWS_ENDPOINT_URL"}
    report = tmp_path / "r.json"
    proc = subprocess.Popen(
        [
            *[sys.executable, "-m", "verification", "--outputs", str(outputs)],
            *["--endpoint-url", unchanged_stack.sb.endpoint_url, "--settle-timeout", "0.5"],
            *["--json", str(report)],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # like `| head -0`: every write to stdout fails
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err
    assert json.loads(report.read_text())["status"] == "pass"
    assert proc.returncode == 0, err
    assert unchanged_stack.leftovers()["keys"] == []


def test_cli_creates_missing_report_directories(unchanged_stack: Deployed, tmp_path: Path) -> None:
    # As CI calls it in a fresh checkout, where `reports/` does not exist.
    reports = tmp_path / "reports" / "nested"
    put_existing(unchanged_stack)
    done = cli(
        unchanged_stack,
        tmp_path,
        *["--json", str(reports / "verification.json")],
        *["--junit-xml", str(reports / "verification.xml")],
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((reports / "verification.json").read_text())["status"] == "pass"
    assert list(ET.parse(reports / "verification.xml").getroot().iter("testcase"))
    assert_clean(unchanged_stack)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_endpoint_down_exits_2_in_one_line(unchanged_stack: Deployed, tmp_path: Path) -> None:
    done = cli(unchanged_stack, tmp_path, endpoint=f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 2
    assert done.stderr.startswith("verification: cannot reach http://127.0.0.1:")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_wrong_credentials_exit_2_and_leave_nothing(
    unchanged_stack: Deployed, tmp_path: Path
) -> None:
    done = cli(unchanged_stack, tmp_path, env={"AWS_ACCESS_KEY_ID": "AKIAWRONGWRONGWRONG1"})
    assert done.returncode == 2
    assert "admin credentials were refused" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    left = unchanged_stack.leftovers()
    assert left["keys"] == [] and left["tags"] == []


def test_outputs_naming_a_missing_table_are_a_mismatch(unchanged_stack: Deployed) -> None:
    unchanged_stack.outputs[Output.TABLE_NAME] = "no-such-table"
    report = verify(unchanged_stack)
    assert report.exit_code == 1
    assert problems(report, unchanged_stack)["table.arn"] == "MISMATCH"
    assert {r.verdict for r in report.access_rows} == {"not verifiable"}
    assert "does not exist" in report.access_rows[0].detail
    assert unchanged_stack.user_leftovers()["keys"] == []


def test_outputs_naming_a_missing_key_are_a_mismatch_row(unchanged_stack: Deployed) -> None:
    missing = unchanged_stack.key_arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    unchanged_stack.outputs[Output.KEY_ARN] = missing
    report = verify(unchanged_stack)
    assert report.exit_code == 1
    row = next(r for r in report.config_rows if r.check == "key.arn")
    assert (row.expected, row.observed, row.verdict) == (missing, "(no such key)", "MISMATCH")
    assert "does not exist in account" in row.detail
