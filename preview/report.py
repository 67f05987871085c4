"""Run program + pack for a set of phases and modes, and print like `pulumi preview` does."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kmsguard.contract import ConfigKey
from preview.analyzer import PACK_DIR, PolicyPackClient, Violation
from preview.collect import ProgramRun, run_program

PHASES: Mapping[str, bool] = {"denied": False, "granted": True}


@dataclass
class Outcome:
    phase: str
    preview: bool
    run: ProgramRun
    violations: list[Violation]

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement_level in ("mandatory", "remediate")]


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
    outcomes: list[Outcome] = []
    for phase in phases:
        cfg = {**config, ConfigKey.GRANT_TEST_USER_KEY_ACCESS: PHASES[phase]}
        for preview in modes:
            run = run_program(cfg, preview=preview)
            with PolicyPackClient(preview=preview) as client:
                if policy_config:
                    client.configure(policy_config)
                outcomes.append(Outcome(phase, preview, run, client.analyze_run(run.resources)))
    return outcomes


def _where(v: Violation, run: ProgramRun) -> str:
    r = run.by_urn().get(v.urn)
    return f"  ({r.type}: {r.name})" if r else ""


def render(outcomes: Sequence[Outcome], pack: str = "kmsguard-policies") -> str:
    version = pack_version()
    lines: list[str] = []
    for o in outcomes:
        mode = "Previewing update" if o.preview else "Updating (engine-less)"
        lines.append(f"{mode} ({o.run.stack}, phase {o.phase}): {len(o.run.resources)} resources")
        lines.append("Policies:")
        mark = "❌" if o.mandatory else ("⚠️" if o.violations else "✅")
        lines.append(f"    {mark} {pack}@v{version} (local: policies)")
        for v in o.violations:
            lines.append(f"        - {v.enforcement_level}: [{v.policy_name}]{_where(v, o.run)}")
            lines.extend(f"          {line}" for line in v.detail.splitlines())
        lines.append("")
    return "\n".join(lines)


def to_json(outcomes: Sequence[Outcome]) -> str:
    return json.dumps(
        [
            {
                "phase": o.phase,
                "mode": "preview" if o.preview else "update",
                "resources": len(o.run.resources),
                "violations": [v.to_json() for v in o.violations],
            }
            for o in outcomes
        ],
        indent=2,
    )
