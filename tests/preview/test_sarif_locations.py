"""SARIF locations a code-scanning UI can map: repository-relative, with %SRCROOT%."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.preview.sarif_check import validated

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "public-key-policy"


def _preview(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kmsguard.preview", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_program_in_a_subfolder_is_located_from_the_repository_root(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    program = repo / "infra" / "keys"
    shutil.copytree(EXAMPLE, program)
    # Run from the program's own folder, as `cd infra/keys && kmsguard-preview` does.
    run = _preview(program, "--sarif", "out.sarif")
    assert run.returncode == 1, run.stderr
    results = validated(program / "out.sarif").runs[0].results or []
    public = next(r for r in results if r.rule_id == "kms-key-policy-no-public-principal")
    physical = public.locations[0].physical_location
    assert physical.artifact_location.uri == "infra/keys/__main__.py"
    assert physical.artifact_location.uri_base_id == "%SRCROOT%"
    assert physical.region is not None and physical.region.start_line

    run = _preview(program, "--sarif", "out.sarif", "--sarif-root", str(repo / "infra"))
    assert run.returncode == 1, run.stderr
    results = validated(program / "out.sarif").runs[0].results or []
    uris = {r.locations[0].physical_location.artifact_location.uri for r in results}
    assert uris == {"keys/__main__.py"}

    run = _preview(program, "--sarif", "bad.sarif", "--sarif-root", str(repo / "nowhere"))
    assert run.returncode == 2
    assert "--sarif-root" in run.stderr and not (program / "bad.sarif").exists()
