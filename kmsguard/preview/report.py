"""Run program + packs for a set of phases and modes, and print like `pulumi preview` does."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kmsguard.contract import ConfigKey
from kmsguard.findings import ADVISORY_PREFIX, DEFERRED_PREFIX
from kmsguard.preview.analyzer import PolicyPackClient
from kmsguard.preview.collect import (
    ANSWERED_AS_UNKNOWN,
    ProgramRun,
    RegisteredResource,
    run_program,
)
from kmsguard.preview.diagnostics import CANT_RUN, PackInfo, Remediation, Violation

PHASES: Mapping[str, bool] = {"denied": False, "granted": True}
MANDATORY = ("mandatory", "remediate")


@dataclass
class Outcome:
    phase: str | None
    preview: bool
    run: ProgramRun
    violations: list[Violation]
    packs: list[PackInfo] = field(default_factory=list)
    remediations: list[Remediation] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement_level in MANDATORY]


def run_all(
    phases: Sequence[str],
    modes: Sequence[bool],
    config: Mapping[str, Any],
    policy_config: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Outcome]:
    """The kmsguard program in each phase and mode, judged by its own pack."""
    outcomes: list[Outcome] = []
    for phase in phases:
        cfg = {**config, ConfigKey.GRANT_TEST_USER_KEY_ACCESS: PHASES[phase]}
        for preview in modes:
            run = run_program(cfg, preview=preview)
            with PolicyPackClient(preview=preview) as client:
                if policy_config:
                    client.configure(policy_config)
                outcomes.append(judge(run, [client], [client.describe()], phase))
    return outcomes


def judge(
    run: ProgramRun,
    clients: Sequence[PolicyPackClient],
    packs: Sequence[PackInfo],
    phase: str | None = None,
) -> Outcome:
    """The engine's order: for each resource, every pack's remediations (each sees the one
    before), then every pack's analysis of the remediated resource; then the stack policies
    over the remediated stack."""
    by_urn = run.by_urn()
    violations: list[Violation] = []
    fixes: list[Remediation] = []
    resources: list[RegisteredResource] = []
    for r in run.resources:
        for client in clients:
            r, fixed, notes = client.remediate(r, by_urn)
            fixes.extend(fixed)
            violations.extend(notes)
        for client in clients:
            violations.extend(client.analyze(r, by_urn))
        resources.append(r)
    for client in clients:
        violations.extend(client.analyze_stack(resources))
    remediated = dataclasses.replace(run, resources=resources)
    return Outcome(
        phase,
        run.preview,
        remediated,
        [present(v, packs) for v in violations],
        list(packs),
        [_with_meta(f, packs) for f in fixes],
    )


_PIN = re.compile(r"set ((?:aws|[A-Za-z0-9_-]+):[A-Za-z0-9_]+) in the stack config")


def _meta(packs: Sequence[PackInfo], pack: str, policy: str) -> tuple[str, str] | None:
    """(pack version from PulumiPolicy.yaml, the policy's severity) from the pack's metadata."""
    for p in packs:
        if p.name == pack:
            severity = next((m.severity for m in p.policies if m.name == policy), "")
            return p.version, severity
    return None


def present(v: Violation, packs: Sequence[PackInfo]) -> Violation:
    """The diagnostic as the pack means it: its version and the rule's severity from the pack's
    metadata, and a deferral said as one, with the stack config that would settle it."""
    meta = _meta(packs, v.pack_name, v.policy_name)
    if meta is not None:
        version, severity = meta
        v = dataclasses.replace(v, pack_version=version, severity=v.severity or severity)
    detail = v.detail
    m = CANT_RUN.match(detail)
    if m is None:
        return v
    rest = detail[m.end() :]
    if not rest.startswith(DEFERRED_PREFIX):
        # The pack's advisory findings from a stronger rule travel the same way.
        return dataclasses.replace(v, message=rest.removeprefix(ADVISORY_PREFIX))
    pins = tuple(dict.fromkeys(_PIN.findall(rest)))
    return dataclasses.replace(v, message=rest, deferred=True, decided_by=pins)


def _with_meta(f: Remediation, packs: Sequence[PackInfo]) -> Remediation:
    meta = _meta(packs, f.pack_name, f.policy_name)
    if meta is None:
        return f
    return dataclasses.replace(f, pack_version=meta[0], severity=f.severity or meta[1])


def _where(v: Violation | Remediation, run: ProgramRun) -> str:
    r = run.by_urn().get(v.urn)
    return f"  ({r.type}: {r.name})" if r else ""


def _local(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _pack_lines(o: Outcome, pack: PackInfo | None, violations: list[Violation]) -> list[str]:
    name = pack.name if pack else (violations[0].pack_name if violations else "policies")
    version = pack.version if pack else (violations[0].pack_version if violations else "")
    local = f" (local: {_local(pack.path)})" if pack else ""
    bad = any(v.enforcement_level in MANDATORY for v in violations)
    fixes = [f for f in o.remediations if pack is None or f.pack_name == pack.name]
    mark = "❌" if bad else ("⚠️" if violations or fixes else "✅")
    lines = [f"    {mark} {name}@v{version}{local}"]
    for f in fixes:
        lines.append(f"        - [remediate]  [{f.policy_name}]{_where(f, o.run)}")
        lines.extend(f"          {k}: {_show(b)} -> {_show(a)}" for k, b, a in f.changes)
    for v in violations:
        if v.deferred:
            lines.append(f"        - [deferred]  [{v.policy_name}]{_where(v, o.run)}")
            settle = (
                f"; pin {' and '.join(v.decided_by)} in the stack config to decide it in preview"
                if v.decided_by
                else ""
            )
            severity = f"severity {v.severity}, " if v.severity else ""
            lines.append(f"          ({severity}advisory until verified{settle})")
        else:
            lines.append(f"        - [{v.enforcement_level}]  [{v.policy_name}]{_where(v, o.run)}")
        lines.extend(f"          {line}" for line in v.detail.splitlines())
    return lines


def _show(value: Any) -> str:
    return "(absent)" if value is None else json.dumps(value, sort_keys=True)


def render_outcome(o: Outcome) -> list[str]:
    mode = "Previewing update" if o.preview else "Updating (engine-less)"
    phase = f", phase {o.phase}" if o.phase else ""
    lines = [f"{mode} ({o.run.stack}{phase}): {len(o.run.resources)} resources", "Policies:"]
    packs: list[PackInfo | None] = list(o.packs) or [None]
    for pack in packs:
        mine = [v for v in o.violations if pack is None or v.pack_name == pack.name]
        lines.extend(_pack_lines(o, pack, mine))
    if o.run.unknown_invokes:
        lines.append("Invokes " + ANSWERED_AS_UNKNOWN + " (no cloud to ask; results unknown):")
        lines.extend(f"    - {token}" for token in o.run.unknown_invokes)
    lines.append("")
    return lines


def render(outcomes: Sequence[Outcome]) -> str:
    lines: list[str] = []
    for o in outcomes:
        lines.extend(render_outcome(o))
    return "\n".join(lines)


def to_json(outcomes: Sequence[Outcome]) -> str:
    return json.dumps(
        [
            {
                "phase": o.phase,
                "mode": "preview" if o.preview else "update",
                "project": o.run.project,
                "stack": o.run.stack,
                "resources": len(o.run.resources),
                "packs": [{"name": p.name, "version": p.version} for p in o.packs],
                "answeredAsUnknown": list(o.run.unknown_invokes),
                "violations": [
                    *(_entry(f, o.run) for f in o.remediations),
                    *(_entry(v, o.run) for v in o.violations),
                ],
            }
            for o in outcomes
        ],
        indent=2,
    )


def _entry(v: Violation | Remediation, run: ProgramRun) -> dict[str, Any]:
    return {
        **v.to_json(),
        "pack": v.pack_name,
        "packVersion": v.pack_version,
        "type": _type_of(v, run),
    }


def _type_of(v: Violation | Remediation, run: ProgramRun) -> str:
    r = run.by_urn().get(v.urn)
    return r.type if r else ""
