"""`python -m kmsguard.access diff|public --sarif`: the prover's findings as SARIF 2.1.0."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType

import pytest

from kmsguard.access.__main__ import main
from kmsguard.findings import FINGERPRINT
from kmsguard.rule_text import NO_NEW_ACCESS, NO_PUBLIC_PRINCIPAL
from policies.rules import kms_key_policy_no_new_access as no_new_access
from policies.rules import kms_key_policy_no_public_principal as no_public_principal
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
_TEXTS = {"diff": NO_NEW_ACCESS, "public": NO_PUBLIC_PRINCIPAL}


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
    prints = set()
    for result in run.results:
        assert result.rule_id == rule.id and result.level.value == "error"
        assert result.properties["code"] == "new-access"
        prints.add(result.partial_fingerprints[FINGERPRINT])
        assert result.locations[0].physical_location.artifact_location.uri == "new.json"
        assert result.properties["principal"] and "(NEW allows it, OLD does not)" in (
            result.message.text
        )
    assert any(ALICE in r.message.text and "kms:Decrypt" in r.message.text for r in run.results)
    assert len(prints) == len(run.results)


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
    assert all(r.properties["code"] == "public-access" for r in run.results)


@pytest.mark.parametrize(
    ("command", "module"),
    [("diff", no_new_access), ("public", no_public_principal)],
)
def test_the_sarif_rule_says_what_the_packs_rule_says(
    in_tmp: Path, command: str, module: ModuleType
) -> None:
    _write(in_tmp / "old.json", ROOT)
    _write(in_tmp / "key.json", ROOT, PUBLIC)
    args = ["old.json", "key.json"] if command == "diff" else ["key.json", "--account", A]
    main([command, *args, "--sarif", "r.sarif"])
    (rule,) = validated(in_tmp / "r.sarif").runs[0].tool.driver.rules
    meta = module.META
    assert rule.id == meta.name and rule.full_description.text == meta.description
    assert rule.help.text == meta.remediation
    assert rule.properties["severity"] == meta.severity.value
    assert module.META.codes.get(_TEXTS[command].witness_code)


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
    # A policy variable is beyond the model, so the answer is undecided however fast the solver
    # is (a tiny --timeout is not: z3 may still finish a simple query within its 1 ms minimum).
    by_name = {
        **PUBLIC,
        "Sid": "ByName",
        "Condition": {"StringEquals": {"kms:EncryptionContext:owner": "${aws:username}"}},
    }
    _write(in_tmp / "old.json", ROOT)
    _write(in_tmp / "new.json", ROOT, by_name)
    assert main(["diff", "old.json", "new.json", "--sarif", "u.sarif"]) == 3
    (result,) = validated(in_tmp / "u.sarif").runs[0].results
    assert result.level.value == "warning" and result.message.text.startswith("undecided: ")


def _pretty(path: Path, *statements: dict) -> Path:
    """A policy file as people write them: one key per line, statements further down."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"Version": "2012-10-17", "Statement": list(statements)}
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def _line_of_sid(path: Path, sid: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if f'"Sid": "{sid}"' in line)
    return at  # the statement's "{" is the line above its first key (1-based: at)


@pytest.mark.parametrize("command", ["diff", "public"])
def test_locations_are_repository_relative_and_point_at_the_statement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)  # what `git init` leaves: the work tree's top level
    old = _pretty(repo / "keys" / "old.json", ROOT)
    new = _pretty(repo / "keys" / "new.json", ROOT, ALLOW_ALICE, PUBLIC)
    (repo / "ci").mkdir()
    monkeypatch.chdir(repo / "ci")  # a job running from a subfolder
    args = ["diff", str(old), str(new)] if command == "diff" else ["public", str(new)]
    args += ["--account", "111122223333"] if command == "public" else []
    assert main([*args, "--sarif", "out.sarif"]) == 1
    results = validated(repo / "ci" / "out.sarif").runs[0].results or []
    assert results
    lines = {_line_of_sid(new, "AliceDecrypts"), _line_of_sid(new, "Everyone")}
    for result in results:
        physical = result.locations[0].physical_location
        assert physical.artifact_location.uri == "keys/new.json"
        assert physical.artifact_location.uri_base_id == "%SRCROOT%"
        assert physical.region is not None and physical.region.start_line in lines
    public_line = _line_of_sid(new, "Everyone")
    outsiders = [r for r in results if "999999999999" in r.properties["principal"]]
    assert outsiders and all(
        r.locations[0].physical_location.region.start_line == public_line for r in outsiders
    )


def test_sarif_root_option_wins_and_must_exist(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = _pretty(in_tmp / "deep" / "er" / "key.json", ROOT, PUBLIC)
    args = ["public", str(new), "--account", "111122223333", "--sarif", "p.sarif"]
    assert main([*args, "--sarif-root", str(in_tmp / "deep")]) == 1
    [first, *_] = validated(in_tmp / "p.sarif").runs[0].results or []
    assert first.locations[0].physical_location.artifact_location.uri == "er/key.json"
    capsys.readouterr()
    assert main([*args, "--sarif-root", str(in_tmp / "nowhere")]) == 2
    assert "--sarif-root" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ('{\n "Statement": [\n  {"Sid": "a"},\n\n  {"Sid": "b"}\n ]\n}', [3, 5]),
        ('{"Statement": {"Sid": "only"}}', [1]),
        # Escaped key, a decoy "Statement" inside a string and a nested object, a BOM.
        (
            '\ufeff{"x": "\\"Statement\\": [", "y": {"Statement": [1]},\n'
            '"\\u0053tatement": [\n{}]}',
            [3],
        ),
        # The last "Statement" wins, as for json.loads.
        ('{"Statement": [{}],\n"Statement": [\n{}, {}]}', [3, 3]),
        ("[1, 2]", []),
        ('{"Statement": [{}', []),
        ("", []),
    ],
)
def test_statement_lines(text: str, lines: list[int]) -> None:
    from kmsguard.sarif import statement_lines

    assert statement_lines(text) == lines


def test_statement_lines_reads_each_value_once() -> None:
    from kmsguard.sarif import statement_lines

    # Deep nesting and many statements: one pass, no recursion beyond json's own.
    many = '{"Statement": [' + ",\n".join(['{"Sid": "s"}'] * 50_000) + "]}"
    assert statement_lines(many)[-1] == 50_000
    assert statement_lines('{"Statement": ' + "[" * 100_000 + "]" * 100_000 + "}") == []


def test_sarif_messages_summarise_a_whole_service(in_tmp: Path) -> None:
    from kmsguard.access import expand_actions

    everything = {**PUBLIC, "Action": "kms:*"}
    _write(in_tmp / "p.json", ROOT, everything)
    assert main(["public", "p.json", "--account", A, "--sarif", "p.sarif"]) == 1
    results = validated(in_tmp / "p.sarif").runs[0].results or []
    texts = [r.message.text or "" for r in results]
    whole = f"kms:* (all {len(expand_actions('kms:*'))} actions)"
    assert texts and all(whole in t and "kms:CancelKeyDeletion" not in t for t in texts), texts
