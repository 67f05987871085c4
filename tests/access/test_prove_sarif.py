"""`python -m kmsguard.access diff|public --sarif`: the prover's findings as SARIF 2.1.0."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kmsguard.access.__main__ import main
from tests.preview.sarif_check import validated

A = "111122223333"
ROOT = {
    "Sid": "EnableRootAccountIamDelegation",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
ALICE = f"arn:aws:iam::{A}:user/alice"
ALLOW_ALICE = {
    "Sid": "AliceDecrypts",
    "Effect": "Allow",
    "Principal": {"AWS": ALICE},
    "Action": "kms:Decrypt",
    "Resource": "*",
}
PUBLIC = {**ALLOW_ALICE, "Sid": "Everyone", "Principal": "*"}


def _write(path: Path, *statements: dict) -> Path:
    path.write_text(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    return path


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_diff_writes_one_result_per_new_access(in_tmp: Path) -> None:
    _write(in_tmp / "old.json", ROOT)
    _write(in_tmp / "new.json", ROOT, ALLOW_ALICE)
    assert main(["diff", "old.json", "new.json", "--sarif", "out/diff.sarif"]) == 1
    (run,) = validated(in_tmp / "out" / "diff.sarif").runs
    (rule,) = run.tool.driver.rules
    assert rule.id == "kms-key-policy-no-new-access" and rule.help.text
    assert rule.default_configuration.level == "error"
    assert run.results
    for result in run.results:
        assert result.rule_id == rule.id and result.level.value == "error"
        assert result.locations[0].physical_location.artifact_location.uri == "new.json"
        assert result.properties["principal"] and "(NEW allows it, OLD does not)" in (
            result.message.text
        )
    assert any(ALICE in r.message.text and "kms:Decrypt" in r.message.text for r in run.results)


def test_diff_without_new_access_writes_an_empty_run(in_tmp: Path) -> None:
    _write(in_tmp / "old.json", ROOT, ALLOW_ALICE)
    _write(in_tmp / "new.json", ROOT)
    assert main(["diff", "old.json", "new.json", "--sarif", "diff.sarif"]) == 0
    (run,) = validated(in_tmp / "diff.sarif").runs
    assert run.results == [] and run.properties["complete"] is True


def test_public_writes_its_findings_under_the_packs_rule(in_tmp: Path) -> None:
    _write(in_tmp / "key.json", ROOT, PUBLIC)
    assert main(["public", "key.json", "--account", A, "--sarif", "public.sarif"]) == 1
    (run,) = validated(in_tmp / "public.sarif").runs
    assert run.tool.driver.rules[0].id == "kms-key-policy-no-public-principal"
    assert run.results and all(r.level.value == "error" for r in run.results)


def test_bad_input_writes_nothing(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(in_tmp / "old.json", ROOT)
    (in_tmp / "new.json").write_text('{"Statement": [{"Effect": "Maybe"}]}')
    assert main(["diff", "old.json", "new.json", "--sarif", "diff.sarif"]) == 2
    assert "new.json: Statement[0].Effect" in capsys.readouterr().err
    assert not (in_tmp / "diff.sarif").exists()
    os.mkdir(in_tmp / "adir")
    assert main(["diff", "old.json", "old.json", "--sarif", "adir"]) == 2
    assert "--sarif adir: is a directory" in capsys.readouterr().err


def test_an_undecided_question_is_a_warning_not_a_clean_log(in_tmp: Path) -> None:
    _write(in_tmp / "old.json", ROOT)
    _write(in_tmp / "new.json", ROOT, ALLOW_ALICE)
    assert main(["diff", "old.json", "new.json", "--timeout", "1e-9", "--sarif", "u.sarif"]) == 3
    (result,) = validated(in_tmp / "u.sarif").runs[0].results
    assert result.level.value == "warning" and result.message.text.startswith("undecided: ")
