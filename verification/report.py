"""The verification report: exit status, rich table, JSON and JUnit XML.

JSON schema (`Report.to_json()`, version 1)::

    {
      "version": 1,
      "status": "pass" | "mismatch" | "not verifiable",   # exit 0 / 1 / 2
      "exit_code": 0 | 1 | 2,
      "stack": {"table": str, "key": str, "alias": str},
      "admin": str, "endpoint_url": str | null, "region": str,
      "settle_timeout": float, "stable_count": int,
      "configuration": [{"check", "expected", "observed", "verdict", "detail"}],
      "access": [{"principal", "action", "expected", "observed", "verdict",
                  "settle_seconds": float | null, "attempts": int, "detail", "explanation"}],
      "notes": [str]
    }

`verdict` is "pass", "MISMATCH" or "not verifiable". No secret or item content ever appears:
only ARNs, names, action names, AWS error codes and messages.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from verification.outputs import StackFacts
from verification.verdicts import MISMATCH, NOT_VERIFIABLE, PASS, AccessRow, ConfigRow

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_UNVERIFIABLE = 2


@dataclass
class Report:
    facts: StackFacts
    admin: str
    endpoint_url: str | None
    region: str
    settle_timeout: float
    stable_count: int
    config_rows: list[ConfigRow]
    access_rows: list[AccessRow]
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[ConfigRow | AccessRow]:
        return [*self.config_rows, *self.access_rows]

    @property
    def exit_code(self) -> int:
        """1 on any mismatch (a regression outranks a gap), else 2 if anything is unproven."""
        verdicts = {r.verdict for r in self.rows}
        if MISMATCH in verdicts:
            return EXIT_MISMATCH
        if NOT_VERIFIABLE in verdicts or not self.access_rows:
            return EXIT_UNVERIFIABLE
        return EXIT_OK

    @property
    def status(self) -> str:
        return {EXIT_OK: "pass", EXIT_MISMATCH: "mismatch"}.get(self.exit_code, NOT_VERIFIABLE)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "status": self.status,
            "exit_code": self.exit_code,
            "stack": {
                "table": self.facts.table_name,
                "key": self.facts.key_arn,
                "alias": self.facts.key_alias,
            },
            "admin": self.admin,
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "settle_timeout": self.settle_timeout,
            "stable_count": self.stable_count,
            "configuration": [asdict(r) for r in self.config_rows],
            "access": [asdict(r) for r in self.access_rows],
            "notes": list(self.notes),
        }

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    def to_junit(self) -> ET.ElementTree:
        suites = ET.Element("testsuites", name="kmsguard verification")
        for name, rows in (("configuration", self.config_rows), ("access", self.access_rows)):
            suite = ET.SubElement(
                suites,
                "testsuite",
                name=f"kmsguard.{name}",
                tests=str(len(rows)),
                failures=str(sum(r.verdict == MISMATCH for r in rows)),
                errors=str(sum(r.verdict == NOT_VERIFIABLE for r in rows)),
            )
            for row in rows:
                case = ET.SubElement(suite, "testcase", classname=f"kmsguard.{name}")
                if isinstance(row, AccessRow):
                    case.set("name", f"{row.principal} {row.action}")
                    case.set("time", f"{row.settle_seconds or 0:.3f}")
                    text = (
                        f"expected {row.expected}, observed {row.observed}. "
                        f"{row.detail} {row.explanation}".strip()
                    )
                else:
                    case.set("name", row.check)
                    text = f"expected {row.expected}, observed {row.observed}. {row.detail}".strip()
                if row.verdict == MISMATCH:
                    ET.SubElement(case, "failure", message="MISMATCH").text = text
                elif row.verdict == NOT_VERIFIABLE:
                    ET.SubElement(case, "error", message="could not verify").text = text
        return ET.ElementTree(suites)

    def write_junit(self, path: str | Path) -> None:
        tree = self.to_junit()
        ET.indent(tree)
        tree.write(path, encoding="utf-8", xml_declaration=True)

    def render(self, console: Console) -> None:
        """Tables readable without colour: verdicts are words, not just colours."""
        config = Table(title="Configuration (as the admin)", show_lines=False)
        for col in ("check", "expected", "observed", "verdict", "detail"):
            config.add_column(col, overflow="fold")
        for c in self.config_rows:
            config.add_row(
                Text(c.check),
                Text(c.expected),
                Text(c.observed),
                _styled(c.verdict),
                Text(c.detail),
            )
        console.print(config)
        access = Table(title="Access (as each principal)", show_lines=True)
        for col in ("principal", "action", "expected", "observed", "settled", "verdict"):
            access.add_column(col, overflow="fold")
        access.add_column("explanation", overflow="fold", ratio=2)
        for a in self.access_rows:
            settled = "-" if a.settle_seconds is None else f"{a.settle_seconds:.1f}s/{a.attempts}"
            why = "; ".join(x for x in (a.detail if a.verdict != PASS else "", a.explanation) if x)
            cells = (a.principal, a.action, a.expected, a.observed, settled)
            access.add_row(*(Text(x) for x in cells), _styled(a.verdict), Text(why))
        console.print(access)
        for note in self.notes:
            console.print(f"note: {note}", markup=False, highlight=False)
        counts = {
            v: sum(r.verdict == v for r in self.rows) for v in (PASS, MISMATCH, NOT_VERIFIABLE)
        }
        console.print(
            f"result: {self.status.upper()} ({counts[PASS]} pass, {counts[MISMATCH]} mismatch, "
            f"{counts[NOT_VERIFIABLE]} not verifiable)",
            markup=False,
            highlight=False,
        )


def _styled(verdict: str) -> Text:
    style = {PASS: "green", MISMATCH: "bold red", NOT_VERIFIABLE: "yellow"}[verdict]
    return Text(verdict, style=style)
