"""Reports survive what a hostile endpoint can put in a message: controls, surrogates, size."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kmsguard.audit.findings import READERS, Finding, Skipped, own
from kmsguard.audit.model import document_text
from kmsguard.audit.report import Result, render, sanitized, to_json, to_junit, to_sarif
from kmsguard.findings import Finding as RuleFinding
from kmsguard.findings import Reported
from kmsguard.preview.collect import UNKNOWN

ARN = "arn:aws:dynamodb:us-east-1:111122223333:table/t"
NASTY = "refused\x00 \x1b[2J\u202e\ud800 " + "x" * 100_000


def _result() -> Result:
    findings = [
        Finding(ARN, "unreadable", "unreadable", "", NASTY),
        Finding(ARN + "\ud83d", "dynamodb-table-deletion-protection", "advisory", "low", "m"),
        Finding(ARN, "kms-key-rotation-enabled", "mandatory", "high", "rotation\noff"),
    ]
    return sanitized(Result("111122223333", ["us-east-1"], findings, [Skipped("r", "why")], None))


def test_every_report_is_writable_and_parses_back(tmp_path: Path) -> None:
    r = _result()
    for name, text in (
        ("a.json", to_json(r)),
        ("a.sarif", to_sarif(r, "0", tmp_path)),
        ("a.xml", to_junit(r)),
    ):
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert json.loads((tmp_path / "a.json").read_text())["findings"][0]["message"].startswith(
        "refused\x00"
    )
    json.loads((tmp_path / "a.sarif").read_text())
    root = ET.fromstring((tmp_path / "a.xml").read_text(encoding="utf-8").encode())
    failures = [c.find("failure") for s in root for c in s if c.find("failure") is not None]
    assert len(failures) == 2  # the mandatory finding and the unreadable one
    assert "\\x1b" in failures[0].get("message", "") + failures[1].get("message", "")


def test_the_terminal_gets_no_control_characters() -> None:
    text = render(_result())
    assert "\x1b" not in text and "\u202e" not in text and "\x00" not in text
    assert "\\x1b[2J" in text
    assert "rotation off" in text
    assert "1 mandatory, 1 unreadable" in text


def test_a_document_nested_beyond_reading_is_unknown() -> None:
    deep: dict = {}
    cur = deep
    for _ in range(100_000):
        cur["a"] = {}
        cur = cur["a"]
    assert document_text(deep) == UNKNOWN


def _coded() -> Result:
    rule = RuleFinding(
        "kms-key-rotation-enabled", "rotation-disabled", "Key 'k'", "off", {"enabled": False}
    )
    proof = own(
        ARN,
        READERS,
        "undeclared-readers",
        "advisory",
        "high",
        "readable by \ud800 x",
        witness={"witnesses": [{"principal": "arn:aws:iam::444455556666:root\ud800"}]},
    )
    findings = [
        Finding(ARN, rule.rule, "mandatory", "high", "Key 'k': off", "", (Reported(rule),)),
        Finding(ARN, "foreign-rule", "advisory", "low", "no record for this one"),
        proof,
    ]
    return sanitized(Result("111122223333", ["us-east-1"], findings, [], None))


def test_json_findings_carry_code_and_witness_or_say_none_is_known() -> None:
    rotation, foreign, proof = json.loads(to_json(_coded()))["findings"]
    assert rotation["code"] == "rotation-disabled" and rotation["witness"] == {"enabled": False}
    assert foreign["code"] is None and foreign["witness"] is None
    assert proof["code"] == "undeclared-readers"
    # The proofs' witnesses keep their earlier place too.
    assert proof["witnesses"] == proof["witness"]["witnesses"]
    assert proof["witnesses"][0]["principal"].endswith("\\ud800")


def test_sarif_results_carry_code_witness_and_a_stable_fingerprint(tmp_path: Path) -> None:
    first = json.loads(to_sarif(_coded(), "0", tmp_path))["runs"][0]["results"]
    rotation, foreign, proof = first
    assert rotation["properties"]["code"] == "rotation-disabled"
    assert rotation["properties"]["witness"] == {"enabled": False}
    assert "partialFingerprints" not in foreign and foreign["properties"]["code"] is None
    assert proof["properties"]["witness"]["witnesses"]
    # The fingerprint follows the rule, code and resource, not the words.
    reworded = _coded()
    reworded.findings[0] = dataclasses.replace(reworded.findings[0], message="Key 'k': is off")
    again = json.loads(to_sarif(reworded, "0", tmp_path))["runs"][0]["results"]
    assert again[0]["partialFingerprints"] == rotation["partialFingerprints"]
    assert rotation["partialFingerprints"] != proof["partialFingerprints"]


def test_an_audit_check_refuses_a_code_it_does_not_declare() -> None:
    with pytest.raises(ValueError, match="declares no finding code 'nope'"):
        own(ARN, READERS, "nope", "advisory", "high", "m")
