"""`python -m kmsguard.access readers`: exit codes, JSON, SARIF, bad input, and the docs example."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest

from kmsguard.access import decide
from kmsguard.access.__main__ import main
from kmsguard.findings import FINGERPRINT
from policies.rules.dynamodb_table_readers_match_declared import META as READERS_META
from tests.preview.sarif_check import validated

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "table-policies"
A = "111122223333"
B = "444455556666"
TABLE = f"arn:aws:dynamodb:us-east-1:{A}:table/Orders"
ALICE = f"arn:aws:iam::{A}:user/alice"
DECLARED = ["--reader", ALICE, "--reader", f"arn:aws:iam::{A}:root"]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for f in EXAMPLES.glob("*.json"):
        shutil.copy2(f, tmp_path / f.name)
    return tmp_path


def base(*extra: str) -> list[str]:
    return [
        "readers",
        "--table",
        TABLE,
        "--key-policy",
        "key-policy.json",
        "--identities",
        "identities.json",
        "--closed-account",
        A,
        *DECLARED,
        *extra,
    ]


def test_exit_0_when_the_readers_are_exactly_the_declared_ones(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(base()) == 0
    assert "exactly the declared readers" in capsys.readouterr().out


def test_exit_1_with_the_witness_as_json_that_decide_confirms(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(base("--table-policy", "table-policy.json", "--json")) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "fail" and out["witnesses"]
    for w in out["witnesses"]:
        assert f"::{B}:" in w["principal"]
        assert decide(w["read"]).allowed and decide(w["decrypt"]).allowed


def test_trusting_the_account_the_table_is_shared_with_exits_0(in_tmp: Path) -> None:
    assert main(base("--table-policy", "table-policy.json", "--account", B)) == 0


def test_exit_3_when_undecided(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = {
        f"arn:aws:iam::{A}:user/bob": [
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "*", "Resource": f"{TABLE}-${{aws:username}}"}
                ],
            }
        ]
    }
    (in_tmp / "ids.json").write_text(json.dumps(ids))
    args = base()
    args[args.index("identities.json")] = "ids.json"
    assert main(args) == 3
    assert capsys.readouterr().out.startswith("unknown: not modelled")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--table", "arn:aws:s3:::bucket"], "not a DynamoDB table ARN"),
        (["--account", "12345"], "--account '12345': must be a 12-digit AWS account id"),
        (["--org", "acme"], "--org 'acme': must be an organization id"),
        (["--stream-policy", "table-policy.json"], "--stream-policy needs --stream"),
        (["--table-policy", "missing.json"], "--table-policy missing.json: cannot read it"),
        (["--table-policy", "notjson.json"], "--table-policy notjson.json: not JSON"),
        (["--scps", "key-policy.json"], "--scps key-policy.json: must be a list"),
        (["--table-policy", "bad.json"], "Statement"),
        (["--timeout", "0"], "--timeout 0.0: must be a positive number"),
        (["--index", "a/b"], "index name 'a/b'"),
        (["--reader", "alice"], "declared: 'alice' is not a principal"),
        (["--stream", f"{TABLE}-x/stream/1"], "is not a stream of"),
    ],
)
def test_bad_input_is_one_message_and_exit_2(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], change: list[str], message: str
) -> None:
    (in_tmp / "notjson.json").write_text("{")
    (in_tmp / "bad.json").write_text(json.dumps({"Statement": [{"Effect": "Maybe"}]}))
    args = base()
    flag, value = change
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += change
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_an_aws_owned_key_needs_no_key_policy(in_tmp: Path) -> None:
    args = ["readers", "--table", TABLE, "--aws-owned-key", "--table-policy", "table-policy.json"]
    assert main([*args, *DECLARED, "--closed-account", A]) == 1
    assert main([*args, *DECLARED, "--closed-account", A, "--account", B]) == 0


def test_sarif_has_one_result_per_witness_and_says_undecided(in_tmp: Path) -> None:
    args = base("--table-policy", "table-policy.json", "--sarif", "out/r.sarif")
    assert main(args) == 1
    (run,) = validated(in_tmp / "out" / "r.sarif").runs
    (rule,) = run.tool.driver.rules
    assert rule.id == "dynamodb-table-readers-match-declared"
    # The pack's rule, in its own words.
    assert rule.full_description.text == READERS_META.description
    assert rule.help.text == READERS_META.remediation
    assert run.results
    for result in run.results:
        assert result.level.value == "error" and B in result.message.text
        assert result.properties["code"] == "undeclared-reader"
        assert "undeclared-reader" in READERS_META.codes
        assert FINGERPRINT in result.partial_fingerprints
        assert result.locations[0].physical_location.artifact_location.uri == "table-policy.json"
    assert main(base("--sarif", "clean.sarif")) == 0
    assert validated(in_tmp / "clean.sarif").runs[0].results == []


def test_the_documented_example_prints_what_the_docs_show(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (ROOT / "docs" / "evaluator.md").read_text(encoding="utf-8")
    block = text.split("## Who can read a table: `readers`", 1)[1].split("```\n", 2)[1]
    lines = block.splitlines()
    end = next(i for i, line in enumerate(lines) if not line.endswith("\\"))
    command = " ".join(line.rstrip("\\").strip() for line in lines[: end + 1])
    argv = shlex.split(command.removeprefix("$ ").replace("examples/table-policies/", ""))
    assert argv[:4] == ["venv/bin/python", "-m", "kmsguard.access", "readers"]
    echo = lines.index("$ echo $?")
    assert main(argv[3:]) == int(lines[echo + 1])
    assert capsys.readouterr().out.splitlines() == lines[end + 1 : echo]
