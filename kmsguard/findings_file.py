"""The findings file: how a pack hands its findings, as data, to the tool that started it."""

# The analyzer protocol carries a diagnostic's policy, URN and text only. A tool that starts the
# pack itself (kmsguard-preview, kmsguard-audit) names a file in a directory of its own in
# FINDINGS_FILE; the pack appends one JSON line per diagnostic it sends, with the findings
# behind it, and the tool joins each line to its diagnostic by (policy, URN, text) as sent.
# Under the Pulumi CLI the variable is unset and the pack writes nothing anywhere.

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kmsguard.findings import CODE, Finding, Reported, jsonable

ENV = "KMSGUARD_FINDINGS_FILE"
VERSION = 1
# A line over this many bytes carries its findings without their witnesses; the reader refuses
# lines over READ_LIMIT (a message that long is not a pack's).
WRITE_LIMIT = 1 << 20
READ_LIMIT = 16 << 20
Key = tuple[str, str, str]  # (policy, URN as sent, text as sent)


def emit(policy: str, urn: str, sent: str, found: Sequence[Reported]) -> None:
    """Append the line for one diagnostic to the file FINDINGS_FILE names; nothing when unset."""
    path = os.environ.get(ENV)
    if not path:
        return
    line = encode(policy, urn, sent, found)
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line)
    except OSError:
        pass  # the diagnostic itself still reaches the engine; its report lacks only the code


def encode(policy: str, urn: str, sent: str, found: Sequence[Reported]) -> str:
    """One JSON line (ASCII, so any text survives): the diagnostic's key and its findings."""
    findings = [
        {
            "rule": r.finding.rule,
            "code": r.finding.code,
            "resource": r.finding.resource,
            "detail": r.finding.detail,
            "witness": jsonable(r.finding.witness),
            "urn": r.finding.urn,
            "deferred": r.deferred,
        }
        for r in found
    ]
    doc = {"v": VERSION, "policy": policy, "urn": urn, "message": sent, "findings": findings}
    line = _line(doc)
    if len(line) <= WRITE_LIMIT:
        return line
    for f in findings:
        size = len(_line(f["witness"]))
        f["witness"] = {"omitted": f"a witness of {size} bytes, over {WRITE_LIMIT}"}
    return _line(doc)


def _line(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=True, allow_nan=False) + "\n"


class LineError(ValueError):
    """A line of the findings file that is not one the pack writes."""


def decode(line: str) -> tuple[Key, tuple[Reported, ...]]:
    """The key and findings of one line; LineError says what is wrong with it."""
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise LineError(f"not JSON ({str(exc)[:80]})") from None
    if not isinstance(doc, dict) or doc.get("v") != VERSION:
        raise LineError(f"not a version {VERSION} findings record")
    policy, urn_sent, sent = doc.get("policy"), doc.get("urn"), doc.get("message")
    if not (isinstance(policy, str) and isinstance(urn_sent, str) and isinstance(sent, str)):
        raise LineError("policy, urn and message must be strings")
    if not isinstance(doc.get("findings"), list):
        raise LineError("findings must be a list")
    found = []
    for f in doc["findings"]:
        if not isinstance(f, dict):
            raise LineError("a finding is not an object")
        rule, code, resource, detail = (f.get(k) for k in ("rule", "code", "resource", "detail"))
        urn, witness = f.get("urn"), f.get("witness")
        if not (
            isinstance(rule, str)
            and isinstance(code, str)
            and isinstance(resource, str)
            and isinstance(detail, str)
            and CODE.match(code)
            and (urn is None or isinstance(urn, str))
            and isinstance(witness, dict)
        ):
            raise LineError("a finding lacks a rule, kebab-case code, resource, detail or witness")
        finding = Finding(rule, code, resource, detail, witness, urn)
        found.append(Reported(finding, f.get("deferred") is True))
    return (policy, urn_sent, sent), tuple(found)


class FindingsFile:
    """A private directory for the pack's findings file; `take` reads what the pack appended
    since the last call (whole lines only), naming each bad line once through `warn`."""

    def __init__(self, warn: Callable[[str], None] | None = None) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="kmsguard-findings-"))
        self.path = self._dir / "findings.jsonl"
        self._offset = 0
        self._line = 0
        self._warn = _stderr if warn is None else warn
        self._pending: dict[Key, deque[tuple[Reported, ...]]] = defaultdict(deque)

    def env(self) -> dict[str, str]:
        return {ENV: str(self.path)}

    def take(self) -> None:
        """Read the lines appended since the last call into the pending records."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except OSError:
            return  # no file: the pack wrote nothing (another pack, or no findings yet)
        end = chunk.rfind(b"\n") + 1
        self._offset += end
        for raw in chunk[:end].splitlines():
            self._read(raw)

    def _read(self, raw: bytes) -> None:
        self._line += 1
        try:
            if len(raw) > READ_LIMIT:
                raise LineError(f"{len(raw)} bytes, over the {READ_LIMIT} a record may have")
            key, found = decode(raw.decode("utf-8"))
        except (LineError, UnicodeDecodeError) as exc:
            self._warn(
                f"findings file line {self._line}: {exc}; the diagnostic it was for is "
                "reported without code and witness"
            )
            return
        self._pending[key].append(found)

    def claim(self, key: Key) -> tuple[Reported, ...]:
        """The findings of the next diagnostic sent with `key`, () when none was recorded."""
        queue = self._pending.get(key)
        if not queue:
            return ()
        found = queue.popleft()
        if not queue:
            del self._pending[key]
        return found

    def forget(self) -> None:
        """Drop what no diagnostic claimed: records never join a later call's diagnostics."""
        self._pending.clear()

    def close(self) -> None:
        """Name a last line the pack left unfinished, and remove the directory."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                rest = handle.read(READ_LIMIT + 1)
        except OSError:
            rest = b""
        if rest:
            self._line += 1
            self._warn(f"findings file line {self._line}: truncated (no end of line); ignored")
        shutil.rmtree(self._dir, ignore_errors=True)


def _stderr(text: str) -> None:
    sys.stderr.write(f"kmsguard: {text}\n")
