"""Run program + packs for a set of phases and modes, and print like `pulumi preview` does."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kmsguard.contract import ConfigKey
from kmsguard.preview.analyzer import PACK_DIR, PackInfo, PolicyPackClient, Violation
from kmsguard.preview.collect import ANSWERED_AS_UNKNOWN, ProgramRun, run_program

PHASES: Mapping[str, bool] = {"denied": False, "granted": True}
MANDATORY = ("mandatory", "remediate")


@dataclass
class Outcome:
    phase: str | None
    preview: bool
    run: ProgramRun
    violations: list[Violation]
    packs: list[PackInfo] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement_level in MANDATORY]


def pack_version(pack_dir: Path = PACK_DIR) -> str:
    for line in (pack_dir / "PulumiPolicy.yaml").read_text(encoding="utf-8").splitlines():
        if line.startswith("version:"):
            return line.split(":", 1)[1].strip()
    return "0.0.1"


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
                outcomes.append(
                    Outcome(
                        phase, preview, run, client.analyze_run(run.resources), [client.describe()]
                    )
                )
    return outcomes


def judge(
    run: ProgramRun,
    clients: Sequence[PolicyPackClient],
    packs: Sequence[PackInfo],
    phase: str | None = None,
) -> Outcome:
    violations: list[Violation] = []
    for client in clients:
        violations.extend(client.analyze_run(run.resources))
    return Outcome(phase, run.preview, run, violations, list(packs))


def _where(v: Violation, run: ProgramRun) -> str:
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
    mark = "❌" if bad else ("⚠️" if violations else "✅")
    lines = [f"    {mark} {name}@v{version}{local}"]
    for v in violations:
        lines.append(f"        - [{v.enforcement_level}]  [{v.policy_name}]{_where(v, o.run)}")
        lines.extend(f"          {line}" for line in v.detail.splitlines())
    return lines


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
                    {**v.to_json(), "pack": v.pack_name, "type": _type_of(v, o.run)}
                    for v in o.violations
                ],
            }
            for o in outcomes
        ],
        indent=2,
    )


def _type_of(v: Violation, run: ProgramRun) -> str:
    r = run.by_urn().get(v.urn)
    return r.type if r else ""
