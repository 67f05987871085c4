"""The pack as the Pulumi service runs it: archived alone, unpacked elsewhere, clean virtualenv.

Its virtualenv holds the pack's requirements only (about a minute, most of it pip; the fixtures
are module-scoped so every case below shares one archive and one virtualenv, and the wheel is
the one `make dist` built for the journeys too).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import kmsguard
from kmsguard.preview.analyzer import PolicyPackClient
from kmsguard.preview.collect import run_program
from kmsguard.preview.diagnostics import Violation
from kmsguard.preview.pack import build_archive, unpack
from kmsguard.preview.pack_dir import PACK_DIR, REPO
from tests.journeys.shell import PIP_SETTINGS
from tests.packaging.dist import GROUP, Dist
from tests.packaging.fixtures import FIXTURES, RULES_FIRED

TIMEOUT = 900


def _env() -> dict[str, str]:
    """The caller's environment without anything pointing back into this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # Byte-compiling every installed module costs more than the imports that compile lazily.
    return env | PIP_SETTINGS


def _run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@dataclass(frozen=True)
class CleanPack:
    pack_dir: Path
    python: Path
    without_dependencies: subprocess.CompletedProcess[str]


# One worker runs the whole module (and the journeys that share the wheel), so the wheel and
# the module-scoped clean virtualenv are built once.
pytestmark = pytest.mark.xdist_group(GROUP)


@pytest.fixture(scope="session")
def dist(kmsguard_dist: Dist) -> Dist:
    """The wheel and sdist `make dist` builds (shared with the journeys)."""
    return kmsguard_dist


# Session-scoped: built once per worker even when other tests run between this module's.
@pytest.fixture(scope="session")
def clean_pack(tmp_path_factory: pytest.TempPathFactory, dist: Dist) -> Iterator[CleanPack]:
    archive = build_archive(PACK_DIR, tmp_path_factory.mktemp("archive"))
    pack_dir = unpack(archive, tmp_path_factory.mktemp("unpacked"))
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--clear", str(venv)], cwd=pack_dir)
    python = venv / "bin" / "python"
    # As the Pulumi CLI does in the virtualenv it makes for a pack ("Updating pip..."); a recent
    # pip also resolves the requirements in half the time.
    _run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], cwd=pack_dir)
    requirements = pack_dir / "requirements.txt"
    lines = [ln.split("#")[0].strip() for ln in requirements.read_text().splitlines()]
    pulumi_line = next(ln for ln in lines if ln and Requirement(ln).name == "pulumi")
    # First only what `python -m pulumi.policy` itself needs: the pack must then name the rest.
    _run([str(python), "-m", "pip", "install", "-q", pulumi_line], cwd=pack_dir)
    bare = _run(
        [str(python), "-m", "pulumi.policy", "127.0.0.1:1", str(pack_dir)],
        cwd=pack_dir,
        check=False,
    )
    _run(
        [str(python), "-m", "pip", "install", "-q", str(dist.wheel), "-r", str(requirements)],
        cwd=pack_dir,
    )
    yield CleanPack(pack_dir=pack_dir, python=python, without_dependencies=bare)


def test_wheel_and_sdist_hold_the_domain_and_its_data_files(dist: Dist) -> None:
    # The domain, and the kmsguard-preview CLI that the distribution installs.
    on_disk = {
        p.relative_to(REPO).as_posix()
        for package in ("kmsguard",)
        for p in (REPO / package).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert "kmsguard/access/evaluate.py" in on_disk and "kmsguard/py.typed" in on_disk
    with zipfile.ZipFile(dist.wheel) as whl:
        names = set(whl.namelist())
    assert {n for n in names if n.split("/")[0] in ("kmsguard",)} == on_disk
    # The distribution installs its own namespace only (no top-level `preview`, `policies`).
    dist_info = f"kmsguard-{kmsguard.__version__}.dist-info"
    assert {n.split("/")[0] for n in names} == {"kmsguard", dist_info}
    # The pack is published from its directory, never from the distribution.
    assert not any(n.startswith("policies/") for n in names)
    with zipfile.ZipFile(dist.wheel) as whl:
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = whl.read(entry_points).decode()
    assert "kmsguard-preview = kmsguard.preview.__main__:main" in scripts
    with tarfile.open(dist.sdist) as sdist:
        sdist_names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert on_disk <= sdist_names
    assert dist.wheel.name == f"kmsguard-{kmsguard.__version__}-py3-none-any.whl"


def test_pack_without_its_dependencies_names_them_and_how_to_install(clean_pack: CleanPack) -> None:
    proc = clean_pack.without_dependencies
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    first = proc.stderr.splitlines()[0]
    assert first.startswith("kmsguard policy pack: missing Python package(s):")
    for name in ("kmsguard", "pulumi-policy", "moto"):
        assert name in first
    assert f"-m pip install -r {clean_pack.pack_dir / 'requirements.txt'}" in proc.stderr


def test_clean_virtualenv_uses_nothing_from_the_checkout(clean_pack: CleanPack) -> None:
    proc = _run(
        [
            str(clean_pack.python),
            "-c",
            "import importlib.util, kmsguard; "
            "print(kmsguard.__file__); print(importlib.util.find_spec('policies'))",
        ],
        cwd=clean_pack.pack_dir.parent,
    )
    where, policies = proc.stdout.split()
    assert Path(where).is_relative_to(clean_pack.python.parent.parent)
    assert policies == "None"


def _key(v: Violation) -> tuple[str, str, str, str]:
    return (v.policy_name, v.enforcement_level, v.urn, v.detail)


def test_unpacked_pack_in_a_clean_virtualenv_judges_the_fixtures_as_the_repo_pack(
    clean_pack: CleanPack,
) -> None:
    runs = {name: run_program({}, preview=False, program=fn) for name, fn in FIXTURES.items()}
    runs.update(
        {
            f"program-{phase}": run_program(
                {"grantTestUserKeyAccess": phase == "granted"}, preview=p
            )
            for phase, p in (("denied", True), ("granted", False))
        }
    )
    config = {"kms-key-deletion-window": {"minDeletionWindowDays": 14}}
    results: dict[str, dict[str, list[tuple[str, str, str, str]]]] = {}
    infos = []
    for label, kwargs in (
        ("repo", {}),
        (
            "published",
            {"pack_dir": clean_pack.pack_dir, "python": str(clean_pack.python), "env": _env()},
        ),
    ):
        with PolicyPackClient(preview=False, **kwargs) as client:  # type: ignore[arg-type]
            info = client.info()
            infos.append(sorted((p.name, p.enforcementLevel, p.description) for p in info.policies))
            client.configure(config)
            results[label] = {
                name: sorted(_key(v) for v in client.analyze_run(run.resources))
                for name, run in runs.items()
            }
    assert infos[0] == infos[1] and len(infos[0]) >= len(RULES_FIRED)
    assert results["published"] == results["repo"]
    fired = {k[0] for found in results["published"].values() for k in found}
    assert fired >= RULES_FIRED
    # The program's own stacks pass: no mandatory finding in either phase.
    for phase in ("denied", "granted"):
        assert not [k for k in results["published"][f"program-{phase}"] if k[1] == "mandatory"]
