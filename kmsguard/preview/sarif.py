"""The preview's violations as a SARIF 2.1.0 log: one rule per policy, one result per finding."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sarif_pydantic import Sarif

from kmsguard import sarif
from kmsguard.findings import fingerprints, report_fields
from kmsguard.preview.collect import ProgramRun
from kmsguard.preview.diagnostics import PackInfo, Remediation, Violation
from kmsguard.preview.report import Outcome

TOOL = "kmsguard-preview"


def _rules(packs: Sequence[PackInfo]) -> list[sarif.Rule]:
    rules: list[sarif.Rule] = []
    for pack in packs:
        for p in pack.policies:
            properties: dict[str, object] = {"pack": f"{pack.name}@{pack.version}"}
            if p.framework:
                properties["framework"] = dict(p.framework)
            if p.tags:
                properties["tags"] = list(p.tags)
            rules.append(
                sarif.Rule(
                    id=p.name,
                    short=p.description,
                    full=p.description,
                    help=p.remediation or p.description,
                    level=p.enforcement_level,
                    severity=p.severity,
                    help_uri=p.url,
                    properties=properties,
                )
            )
    return rules


def source_of(urn: str, run: ProgramRun, program_dir: Path, entry: Path) -> tuple[Path, int | None]:
    """The program line that registered the resource; for resources a library registers
    (a component from a package), the program line that created their nearest ancestor."""
    by_urn = run.by_urn()
    seen: set[str] = set()
    current = by_urn.get(urn)
    while current is not None and current.urn not in seen:
        seen.add(current.urn)
        if current.source is not None:
            path = Path(current.source[0])
            if path.resolve().is_relative_to(program_dir.resolve()):
                return path, current.source[1]
        current = by_urn.get(current.parent)
    return entry, None


def _finding(
    v: Violation, o: Outcome, program_dir: Path, entry: Path, several: bool
) -> sarif.Finding:
    # The pack's version as PulumiPolicy.yaml states it (the SDK reports its own default).
    version = next((p.version for p in o.packs if p.name == v.pack_name), v.pack_version)
    resource = o.run.by_urn().get(v.urn)
    path, line = source_of(v.urn, o.run, program_dir, entry)
    properties: dict[str, object] = {
        "urn": v.urn,
        "resourceType": resource.type if resource else "",
        "pack": f"{v.pack_name}@{version}",
        "enforcementLevel": v.enforcement_level,
    }
    if v.severity:
        properties["severity"] = v.severity
    if v.deferred:
        properties["deferred"] = True
        properties["decidedBy"] = list(v.decided_by)
    properties.update(report_fields(v.findings))
    if several:
        properties["mode"] = "preview" if o.preview else "update"
        if o.phase:
            properties["phase"] = o.phase
    where = f" ({resource.type}: {resource.name})" if resource else ""
    return sarif.Finding(
        rule_id=v.policy_name,
        level=v.enforcement_level,
        message=f"{v.detail.strip() or v.description}{where}",
        path=path,
        line=line,
        logical_name=v.urn,
        logical_kind=resource.type if resource else "",
        properties=properties,
        fingerprints=fingerprints(v.findings, v.urn),
    )


def _remediation(
    f: Remediation, o: Outcome, program_dir: Path, entry: Path, several: bool
) -> sarif.Finding:
    # The program still says what the policy refused; the pack fixes it on every deployment,
    # so the source line is worth a warning, not a failed check.
    resource = o.run.by_urn().get(f.urn)
    path, line = source_of(f.urn, o.run, program_dir, entry)
    properties: dict[str, object] = {
        "urn": f.urn,
        "resourceType": resource.type if resource else "",
        "pack": f"{f.pack_name}@{f.pack_version}",
        "enforcementLevel": "remediate",
        "changes": [{"property": k, "before": b, "after": a} for k, b, a in f.changes],
    }
    if f.severity:
        properties["severity"] = f.severity
    if several:
        properties["mode"] = "preview" if o.preview else "update"
        if o.phase:
            properties["phase"] = o.phase
    where = f" ({resource.type}: {resource.name})" if resource else ""
    return sarif.Finding(
        rule_id=f.policy_name,
        level="remediated",
        message=f"{f.summary()}{where}",
        path=path,
        line=line,
        logical_name=f.urn,
        logical_kind=resource.type if resource else "",
        properties=properties,
    )


def build(outcomes: Sequence[Outcome], program_dir: Path, entry: Path, root: Path) -> Sarif:
    packs: list[PackInfo] = []
    for o in outcomes:
        packs.extend(p for p in o.packs if p.name not in {q.name for q in packs})
    several = len(outcomes) > 1
    findings = [
        _remediation(f, o, program_dir, entry, several) for o in outcomes for f in o.remediations
    ]
    findings += [
        _finding(v, o, program_dir, entry, several) for o in outcomes for v in o.violations
    ]
    answered = sorted({t for o in outcomes for t in o.run.unknown_invokes})
    version = ", ".join(f"{p.name}@{p.version}" for p in packs)
    properties: dict[str, object] = {
        "project": outcomes[0].run.project if outcomes else "",
        "stack": outcomes[0].run.stack if outcomes else "",
        "policyPacks": version,
    }
    if answered:
        properties["answeredAsUnknown"] = answered
    return sarif.build(
        TOOL, _tool_version(), _rules(packs), findings, root=root, properties=properties
    )


def _tool_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("kmsguard")
    except metadata.PackageNotFoundError:
        return ""
