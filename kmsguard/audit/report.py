"""The audit's reports: a terminal table, JSON, SARIF (ARNs as logical locations), JUnit XML."""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kmsguard.audit.findings import KEY_ACCESS, UNREADABLE, Finding, Skipped
from kmsguard.findings import Reported, fingerprints, jsonable, report_fields
from kmsguard.preview.diagnostics import PackInfo

TOOL = "kmsguard-audit"
# What a terminal would act on rather than show: C0/C1 controls (escape sequences) and the
# bidirectional and zero-width formatting characters that reorder or hide text.
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


# Characters XML 1.0 cannot carry at all (JUnit XML), and lone surrogates no UTF-8 file can.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _escaped(m: re.Match[str]) -> str:
    return m.group().encode("unicode_escape").decode("ascii")


def sanitized(r: Result) -> Result:
    """The result with every text a report carries writable: lone surrogates (which a hostile
    endpoint's JSON can carry) as escapes, so no report fails half-written."""

    findings = [
        dataclasses.replace(
            f,
            resource=_clean(f.resource),
            message=_clean(f.message),
            found=tuple(_clean_found(x) for x in f.found),
        )
        for f in r.findings
    ]
    return dataclasses.replace(r, findings=findings)


def _clean(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _clean_data(value: Any) -> Any:
    # Witnesses are plain JSON data of bounded depth (kmsguard.findings.jsonable).
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, dict):
        return {_clean(str(k)): _clean_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_data(v) for v in value]
    return value


def _clean_found(r: Reported) -> Reported:
    f = r.finding
    clean = dataclasses.replace(
        f,
        resource=_clean(f.resource),
        detail=_clean(f.detail),
        witness=_clean_data(jsonable(f.witness)),
    )
    return dataclasses.replace(r, finding=clean)


def shown(text: str) -> str:
    """Text for the terminal: every unshowable character as its \\x/\\u escape (linear)."""
    return _UNSHOWABLE.sub(_escaped, text)


def _xml(text: str) -> str:
    return _NOT_XML.sub(_escaped, text)


@dataclass
class Result:
    account: str
    regions: list[str]
    findings: list[Finding]
    skipped: list[Skipped]
    pack: PackInfo | None
    counts: dict[str, int] = field(default_factory=dict)  # resources judged, per kind
    seconds: dict[str, float] = field(default_factory=dict)  # per phase
    calls: dict[str, int] = field(default_factory=dict)  # AWS API calls made, per action

    @property
    def mandatory(self) -> list[Finding]:
        return [f for f in self.findings if f.mandatory]

    @property
    def unreadable(self) -> list[Finding]:
        return [f for f in self.findings if f.level == UNREADABLE]


def to_json(r: Result) -> str:
    return json.dumps(
        {
            "account": r.account,
            "regions": r.regions,
            "pack": {"name": r.pack.name, "version": r.pack.version} if r.pack else None,
            "resources": r.counts,
            "calls": r.calls,
            "findings": [f.to_json() for f in r.findings],
            "skipped": [s.to_json() for s in r.skipped],
        },
        indent=2,
    )


def render(r: Result) -> str:
    """One row per finding: resource ARN, rule, level/severity, message (witness included)."""
    rows = [("RESOURCE", "RULE", "LEVEL", "MESSAGE")]
    for f in r.findings:
        level = f"{f.level}/{f.severity}" if f.severity else f.level
        rows.append((shown(f.resource), f.rule, level, shown(f.message.replace("\n", " "))))
    widths = [min(max(len(row[i]) for row in rows), 80) for i in range(3)]
    lines = [f"kmsguard-audit: account {r.account}, regions {', '.join(r.regions)}"]
    if len(rows) > 1:
        for row in rows:
            lines.append(
                "  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)) + "  " + row[3]
            )
    for s in r.skipped:
        lines.append(f"skipped {s.rule}: {s.reason}")
    judged = ", ".join(f"{n} {kind}" for kind, n in r.counts.items())
    lines.append(
        f"{len(r.findings)} finding(s), {len(r.mandatory)} mandatory, {len(r.unreadable)} "
        f"unreadable; judged {judged or 'nothing'}"
    )
    return "\n".join(lines)


def _rules(r: Result) -> list[Any]:
    from kmsguard import sarif

    rules = [
        sarif.Rule(
            p.name,
            p.description,
            p.description,
            p.remediation,
            p.enforcement_level,
            p.severity,
            p.url,
        )
        for p in (r.pack.policies if r.pack else ())
    ]
    rules.append(
        sarif.Rule(
            UNREADABLE,
            "A resource the audit was not allowed to read",
            "A read-only call was refused; the resource is not fully judged.",
            "Grant the audit role the missing read-only action (docs/audit.md).",
            "error",
            "medium",
        )
    )
    rules.append(
        sarif.Rule(
            KEY_ACCESS,
            "Who beyond the key policy's key users can decrypt a table",
            "The prover's witnesses: principals the table's key policy does not name "
            "that can kms:Decrypt its key.",
            "Narrow the identity policies or the key policy's root delegation.",
            "advisory",
            "high",
        )
    )
    return rules


def to_sarif(r: Result, version: str, root: Path) -> str:
    from kmsguard import sarif

    findings = [
        sarif.Finding(
            rule_id=f.rule,
            level="error" if f.level == UNREADABLE else f.level,
            message=f.message,
            logical_name=f.resource,
            logical_kind=f.resource_type or "resource",
            properties={"level": f.level, **report_fields(f.found)},
            fingerprints=fingerprints(f.found, f.resource),
        )
        for f in r.findings
    ]
    log = sarif.build(
        TOOL,
        version,
        _rules(r),
        findings,
        root=root,
        properties={"account": r.account, "regions": r.regions},
    )
    return sarif.to_json(log)


def to_junit(r: Result) -> str:
    """One suite per rule, one case per finding (mandatory and unreadable ones fail); a rule
    without findings is one passing case, a skipped rule one skipped case."""
    suites = ET.Element("testsuites", name=TOOL)
    by_rule: dict[str, list[Finding]] = {}
    for f in r.findings:
        by_rule.setdefault(f.rule, []).append(f)
    names = [p.name for p in r.pack.policies] if r.pack else []
    for rule in dict.fromkeys([*names, *by_rule, *(s.rule for s in r.skipped)]):
        items = by_rule.get(rule, [])
        suite = ET.SubElement(suites, "testsuite", name=rule)
        failures = 0
        skip = next((s for s in r.skipped if s.rule == rule), None)
        if skip is not None:
            case = ET.SubElement(suite, "testcase", name=rule, classname=rule)
            ET.SubElement(case, "skipped", message=skip.reason)
        elif not items:
            ET.SubElement(suite, "testcase", name="every resource", classname=rule)
        for f in items:
            case = ET.SubElement(suite, "testcase", name=_xml(f.resource), classname=rule)
            if f.mandatory or f.level == UNREADABLE:
                failures += 1
                message = _xml(f.message)
                fail = ET.SubElement(case, "failure", message=message[:500], type=f.level)
                fail.text = message
            else:
                ET.SubElement(case, "system-out").text = _xml(f"{f.level}: {f.message}")
        suite.set("tests", str(len(suite)))
        suite.set("failures", str(failures))
        suite.set("skipped", "1" if skip is not None else "0")
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def write_all(outputs: Sequence[tuple[str, str]]) -> None:
    """Each report whole or absent: every text is built before any file is written."""
    from kmsguard.sarif import write_whole

    for path, text in outputs:
        write_whole(path, text)
