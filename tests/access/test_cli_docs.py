"""The `decide` scenario format is documented where users look; `expand` quotes briefly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kmsguard.access.evaluate import _SCENARIO_EXTRA, _SCENARIO_KEYS

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kmsguard.access", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def docs_section() -> str:
    text = (ROOT / "docs" / "evaluator.md").read_text(encoding="utf-8")
    return text.split("python -m kmsguard.access decide`", 1)[1].split("\n## ", 1)[0]


def test_decide_help_lists_every_scenario_key() -> None:
    done = run("decide", "--help")
    assert done.returncode == 0
    for key in (*_SCENARIO_KEYS, *_SCENARIO_EXTRA):
        assert key in done.stdout, key
    assert "implicit_deny" in done.stdout and "Exit 0" in done.stdout


def test_the_docs_list_every_scenario_key() -> None:
    section = docs_section()
    for key in (*_SCENARIO_KEYS, *_SCENARIO_EXTRA):
        assert f"`{key}`" in section, key


def test_the_docs_example_decides_as_the_docs_say() -> None:
    example = json.loads(docs_section().split("```json\n", 1)[1].split("```", 1)[0])
    allowed = json.loads(run("decide", stdin=json.dumps(example)).stdout)
    assert allowed["effect"] == "allow"
    assert allowed["reason"] in " ".join(docs_section().split())
    del example["context"]
    denied = json.loads(run("decide", "--explain", stdin=json.dumps(example)).stdout)
    assert denied["effect"] == "implicit_deny"
    assert (
        "'AllowKeyUseViaDynamoDB' would allow kms:Decrypt, but its Condition is not met"
        in (denied["detail"])
    )


@pytest.mark.parametrize(
    ("pattern", "code"),
    [("A" * 10_000, 2), ("kms:" + "A!" * 5_000, 1)],
    ids=["not service:Action", "matches nothing"],
)
def test_expand_quotes_an_overlong_pattern_briefly(pattern: str, code: int) -> None:
    done = run("expand", pattern)
    assert done.returncode == code
    assert len(done.stderr) < 300, done.stderr[:400]
    assert f"({len(pattern):,} characters)" in done.stderr
    assert repr(pattern[:80]) in done.stderr
