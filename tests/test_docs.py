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


# A relative Markdown link: [text](path) or [text](path#anchor) or [text](#anchor).
_LINK = re.compile(r"\]\((?!https?://|mailto:)([^)\s]*)\)")


def _anchors(text: str) -> set[str]:
    """GitHub's heading ids: lower case, punctuation but `-` dropped, spaces to dashes."""
    return {
        re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^#{1,6} (.*)$", text, re.M)
    }


def test_the_front_page_stays_short_and_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 200
    pages = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))
    assert len(pages) >= 9, pages
    assert [p for p in pages if f"]({p})" not in readme] == []


def test_every_relative_link_resolves() -> None:
    broken = []
    for doc in tracked_documents():
        if "venv" in doc.parts:
            continue
        for target in _LINK.findall(doc.read_text(encoding="utf-8")):
            path, _, anchor = target.partition("#")
            dest = (doc.parent / path).resolve() if path else doc
            missing_anchor = (
                dest.is_file()
                and dest.suffix == ".md"
                and anchor
                and anchor not in _anchors(dest.read_text(encoding="utf-8"))
            )
            if not dest.exists() or missing_anchor:
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
    assert broken == []
    assert _anchors("## Enforce the pack across an organization\n### `a` b: c\n") == {
        "enforce-the-pack-across-an-organization",
        "a-b-c",
    }
