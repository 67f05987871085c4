"""The findings file survives what a rule's witness or a broken pack can put in it."""

from __future__ import annotations

import builtins
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kmsguard.findings import (
    ELIDED,
    WITNESS_STRING,
    WITNESS_VALUES,
    Finding,
    Reported,
    jsonable,
    report_fields,
)
from kmsguard.findings_file import ENV, WRITE_LIMIT, FindingsFile, LineError, decode, emit, encode

RULE = "kms-key-policy-no-public-principal"


def _finding(witness: Any = None, detail: str = "d") -> Reported:
    return Reported(Finding(RULE, "public-access", "Key 'k'", detail, witness or {}))


class _Warnings(list[str]):
    def __call__(self, text: str) -> None:
        self.append(text)


def test_a_line_reads_back_as_the_finding_it_was_written_from() -> None:
    text = "Key 'k': \u202etxet\u200b 🔑 \ud800 ünïcödé"
    r = _finding({"principal": "arn:aws:iam::111122223333:root", "n": 3}, detail=text)
    line = encode(RULE, "urn:x", text, [r])
    assert line.endswith("\n") and line.isascii()
    key, found = decode(line)
    assert key == (RULE, "urn:x", text)
    assert found == (r,)


def test_values_json_cannot_carry_are_written_as_data() -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd"

    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no text")

    loop: dict[str, Any] = {}
    loop["self"] = loop
    witness = {
        "set": {"b", "a"},
        "tuple": (1, 2),
        "decimal": Decimal("1.5"),
        "bytes": b"\xff",
        "nan": math.nan,
        "inf": -math.inf,
        1: "int key",
        ("t",): "tuple key",
        "odd": Odd(),
        "broken": Broken(),
        "loop": loop,
    }
    (_, found) = decode(encode(RULE, "", "m", [_finding(witness)]))
    w = found[0].finding.witness
    assert w["set"] == ["a", "b"] and w["tuple"] == [1, 2]
    assert w["decimal"] == "1.5" and w["bytes"] == "b'\\xff'"
    assert w["nan"] == "nan" and w["inf"] == "-inf"
    assert w["1"] == "int key" and w["('t',)"] == "tuple key"
    assert w["odd"] == "odd" and w["broken"] == "<Broken>"
    assert w["loop"] == {"self": ELIDED}


def test_deep_wide_and_long_witnesses_are_cut_not_fatal() -> None:
    deep: list[Any] = []
    cur = deep
    for _ in range(100_000):
        cur.append([])
        cur = cur[0]
    shared: list[Any] = [0]
    for _ in range(200):  # 2**200 paths if the sharing were expanded
        shared = [shared, shared]
    assert ELIDED in json.dumps(jsonable(deep), ensure_ascii=False)
    assert json.dumps(jsonable(shared), ensure_ascii=False).count("0") <= WITNESS_VALUES
    wide = jsonable(list(range(10 * WITNESS_VALUES)))
    assert len(wide) <= WITNESS_VALUES + 1 and wide[-1] == ELIDED
    assert jsonable("x" * (WITNESS_STRING + 5)) == "x" * WITNESS_STRING + ELIDED


def test_a_witness_over_the_line_limit_is_omitted_and_the_finding_kept() -> None:
    huge = {f"k{i}": "y" * 60_000 for i in range(40)}
    line = encode(RULE, "", "m", [_finding(huge)])
    assert len(line) < WRITE_LIMIT
    (_, (r,)) = decode(line)
    assert r.finding.code == "public-access" and "omitted" in r.finding.witness


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("garbage", "not JSON"),
        ('{"v": 1, "policy": "p", "urn": "", "message": "m", "findings": [', "not JSON"),
        ('{"v": 2, "policy": "p", "urn": "", "message": "m", "findings": []}', "version 1"),
        ('{"v": 1, "policy": 3, "urn": "", "message": "m", "findings": []}', "strings"),
        ('{"v": 1, "policy": "p", "urn": "", "message": "m", "findings": [1]}', "not an object"),
        (
            '{"v": 1, "policy": "p", "urn": "", "message": "m", "findings": [{"rule": "r", '
            '"code": "Not Kebab", "resource": "", "detail": "", "witness": {}}]}',
            "kebab-case",
        ),
        ("[" * 100_000, "not JSON"),
    ],
)
def test_a_line_the_pack_does_not_write_is_refused_by_name(line: str, why: str) -> None:
    with pytest.raises(LineError, match=why):
        decode(line)


def test_bad_lines_are_named_once_and_good_ones_still_join() -> None:
    warnings = _Warnings()
    file = FindingsFile(warn=warnings)
    good = encode(RULE, "", "m", [_finding({"a": 1})])
    with open(file.path, "wb") as handle:
        handle.write(b"garbage\n\xff\xfe\n" + good.encode())
    file.take()
    file.take()  # nothing new: nothing named again
    assert [w.split(":")[0] for w in warnings] == ["findings file line 1", "findings file line 2"]
    assert "without code and witness" in warnings[0]
    assert file.claim((RULE, "", "m")) == (_finding({"a": 1}),)
    assert file.claim((RULE, "", "m")) == ()
    with open(file.path, "ab") as handle:
        handle.write(good.encode()[:20])  # the pack died mid-line
    file.take()
    assert len(warnings) == 2  # an unfinished line may still be being written
    directory = file.path.parent
    file.close()
    assert len(warnings) == 3 and "truncated" in warnings[2]
    assert not directory.exists()


def test_a_missing_file_is_no_findings_and_no_message() -> None:
    warnings = _Warnings()
    file = FindingsFile(warn=warnings)
    file.take()
    assert file.claim((RULE, "", "m")) == ()
    file.close()
    file.close()
    assert warnings == []


def test_records_not_claimed_by_one_call_never_join_a_later_one() -> None:
    file = FindingsFile(warn=_Warnings())
    file.path.write_text(encode(RULE, "", "m", [_finding()]), encoding="ascii")
    file.take()
    file.forget()
    assert file.claim((RULE, "", "m")) == ()
    file.close()


def test_without_the_variable_the_pack_opens_no_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"opened {args[:1]}")

    monkeypatch.setattr(builtins, "open", refuse)
    emit(RULE, "", "m", [_finding()])  # would raise if it opened anything


def test_with_the_variable_each_diagnostic_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f.jsonl"
    monkeypatch.setenv(ENV, str(target))
    emit(RULE, "", "m1", [_finding()])
    emit(RULE, "urn:y", "m2", [_finding(), Reported(_finding().finding, deferred=True)])
    lines = target.read_text(encoding="ascii").splitlines()
    assert [decode(line)[0] for line in lines] == [(RULE, "", "m1"), (RULE, "urn:y", "m2")]
    assert [r.deferred for r in decode(lines[1])[1]] == [False, True]
    monkeypatch.setenv(ENV, str(tmp_path / "no-such-dir" / "f.jsonl"))
    emit(RULE, "", "m3", [_finding()])  # an unwritable file costs the codes, not the analysis


def test_report_fields_say_code_and_witness_or_each_finding() -> None:
    one = _finding({"a": 1})
    assert report_fields([one]) == {"code": "public-access", "witness": {"a": 1}}
    assert report_fields([]) == {"code": None, "witness": None}
    two = report_fields([one, Reported(one.finding, deferred=True)])
    assert two["code"] is None and [f.get("deferred", False) for f in two["findings"]] == [
        False,
        True,
    ]
