"""Project documents speak to users and contributors: no machine paths, no internal organisation."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|home/\w+|Users/\w+|root)/")


def tracked_documents() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    return [ROOT / p for p in listed] or sorted(ROOT.glob("**/*.md"))


def test_the_contributor_guide_replaces_the_team_notes() -> None:
    assert not (ROOT / "docs" / "TEAM.md").exists()
    guide = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert "(CONTRIBUTING.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    # A newcomer's path: set up, the gate, the rules reviewers apply.
    for step in ("make venv", "make test", "kmsguard/contract.py", "requirements.txt"):
        assert step in guide, step
    for internal in ("owns", "do not edit", "lead", "helper", "session"):
        assert internal not in guide.lower(), internal


def test_no_document_names_a_path_on_someones_machine() -> None:
    found = {
        str(p.relative_to(ROOT)): MACHINE_PATH.findall(p.read_text(encoding="utf-8"))
        for p in tracked_documents()
        if "venv" not in p.parts
    }
    assert {k: v for k, v in found.items() if v} == {}
