"""The wheel's commands from a clean virtualenv outside the repository, one extra at a time, and
`kmsguard-preview` on a program of one's own installed with the documented command.

One virtualenv, made and filled the way docs/preview.md says, in a program's directory next to a
clone of this repository (`../kmsguard`): the wheel alone, then with each extra in turn, then
the documented install command. Each stage's commands run before the next stage installs more,
and their results are kept for the tests below (the virtualenv is built once per module).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

import kmsguard
from tests.journeys.commands import REPO, documented_command, page_text
from tests.journeys.shell import one_line_error, sh
from tests.packaging.dist import GROUP, Dist
from tests.preview.test_examples import SECOND_PACK

pytestmark = pytest.mark.xdist_group(GROUP)

Result = subprocess.CompletedProcess[str]

PREVIEW_COMMANDS = (
    "venv/bin/kmsguard-preview --help",
    "venv/bin/python -m kmsguard.preview --help",
    "venv/bin/python -m kmsguard.preview.pack --help",
)
ACCESS_DIFF = "venv/bin/python -m kmsguard.access diff old.json new.json"
# From a directory without the program's copy of the pack (policies/ there is importable).
SETTINGS_DOC = "cd infra && ../venv/bin/python -m kmsguard.preview.settings_doc"
PACK = "venv/bin/python -m kmsguard.preview.pack"
# Before the documented command installs the pack's requirements (moto among them).
PACK_WITHOUT_MOTO = "venv/bin/kmsguard-preview --stack dev --policy-pack ../kmsguard/policies"


@dataclass
class Stages:
    program: Path
    results: dict[tuple[str, str], Result]
    installs: dict[str, Result]

    def __call__(self, stage: str, command: str) -> Result:
        return self.results[(stage, command)]


def _documented_scenario() -> str:
    section = page_text("docs/evaluator.md").split("## Asking the evaluator", 1)[1]
    return section.split("```json\n", 1)[1].split("```", 1)[0]


def _layout(root: Path) -> Path:
    """A program of one's own next to a clone of this repository, and an organization's pack."""
    (root / "kmsguard").symlink_to(REPO, target_is_directory=True)
    program = root / "program"
    shutil.copytree(REPO / "examples" / "compliant-table", program)
    shutil.copytree(REPO / "examples" / "compliant-table", program / "infra")
    shutil.copy2(program / "infra" / "Pulumi.dev.yaml", program / "infra" / "Pulumi.prod.yaml")
    shutil.copytree(
        REPO / "policies", program / "policies", ignore=shutil.ignore_patterns("__pycache__")
    )
    org_pack = root / "org-pack"
    org_pack.mkdir()
    (org_pack / "PulumiPolicy.yaml").write_text("runtime: python\nversion: 2.0.0\n")
    (org_pack / "__main__.py").write_text(SECOND_PACK)
    for name in ("old.json", "new.json"):
        shutil.copy2(REPO / "examples" / "key-policies" / name, program / name)
    (program / "scenario.json").write_text(_documented_scenario())
    return program


AUDIT_COMMANDS = ("venv/bin/kmsguard-audit --help", "venv/bin/python -m kmsguard.audit --help")

# What each stage runs once its extra is installed; the tests below say what each must do.
STAGE_COMMANDS: dict[str, tuple[str, ...]] = {
    "wheel": (
        "venv/bin/python -m kmsguard.access expand 'kms:Decrypt*'",
        "venv/bin/python -m kmsguard.access decide < scenario.json",
        ACCESS_DIFF,
        f"{ACCESS_DIFF} --sarif diff.sarif",
        *PREVIEW_COMMANDS,
        SETTINGS_DOC,
        *AUDIT_COMMANDS,
        "cd infra && ../venv/bin/python -c 'import importlib.util as u; "
        'print(u.find_spec("preview"), u.find_spec("policies"))\'',
    ),
    "sarif": (
        f"{ACCESS_DIFF} --sarif diff.sarif",
        "venv/bin/python -m kmsguard.access public new.json --account 111122223333 "
        "--sarif public.sarif",
        PREVIEW_COMMANDS[0],
    ),
    # The pulumi extra has no command of its own (the component is a library); the preview
    # extra includes it, and its stage imports the component.
    "preview": (
        *PREVIEW_COMMANDS,
        "venv/bin/python -c 'from kmsguard.component import KmsProtectedTable'",
        SETTINGS_DOC,
        PACK_WITHOUT_MOTO,
        PACK,
        f"{PACK} --pack policies",
        *AUDIT_COMMANDS,
    ),
    # Installed over the preview stage: the audit extra adds boto3 to the preview's modules.
    "audit": AUDIT_COMMANDS,
}


# Session-scoped: built once per worker even when other tests run between this module's.
@pytest.fixture(scope="session")
def stages(tmp_path_factory: pytest.TempPathFactory, kmsguard_dist: Dist) -> Iterator[Stages]:
    program = _layout(tmp_path_factory.mktemp("user"))
    # The wheel `make dist` built stands in for the organization's package index.
    links = os.pathsep.join(
        filter(None, [str(kmsguard_dist.wheel.parent), os.environ.get("PIP_FIND_LINKS")])
    )
    env = {"PIP_FIND_LINKS": links.replace(os.pathsep, " ")}
    wheel = kmsguard_dist.wheel
    installs: dict[str, Result] = {}
    results: dict[tuple[str, str], Result] = {}
    installs["venv"] = sh(documented_command("python3 -m venv").text, program, env)
    installs["pip"] = sh(documented_command("venv/bin/python -m pip install").text, program, env)
    assert installs["pip"].returncode == 0, installs["pip"].stderr[-3000:]
    for stage, spec in (
        ("wheel", f"'{wheel}'"),
        ("sarif", f"'{wheel}[sarif]'"),
        ("preview", f"'{wheel}[preview]'"),
        ("audit", f"'{wheel}[audit]'"),
    ):
        installs[stage] = sh(f"venv/bin/pip install -q {spec}", program, env)
        assert installs[stage].returncode == 0, installs[stage].stderr[-3000:]
        results.update(_run_all(stage, STAGE_COMMANDS[stage], program, env))
    installs["docs"] = sh(documented_command("venv/bin/pip install").text, program, env)
    documented = [
        documented_command(prefix).text
        for prefix in ("venv/bin/kmsguard-preview --stack", "venv/bin/kmsguard-preview --program")
    ]
    results.update(_run_all("docs", documented, program, env))
    yield Stages(program, results, installs)


def _run_all(
    stage: str, commands: Sequence[str], cwd: Path, env: dict[str, str]
) -> dict[tuple[str, str], Result]:
    """A stage's commands (independent of each other: each writes its own files), two at once."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = pool.map(lambda c: sh(c, cwd, env), commands)
        return {(stage, c): proc for c, proc in zip(commands, done, strict=True)}


def test_make_dist_builds_what_the_docs_name(kmsguard_dist: Dist) -> None:
    text = page_text("docs/organization.md")
    comment = text.split("\nmake dist ", 1)[1].split("\n", 1)[0]
    for path in (kmsguard_dist.wheel, kmsguard_dist.sdist):
        assert f"dist/{path.name}" in comment
    assert kmsguard_dist.wheel.name == f"kmsguard-{kmsguard.__version__}-py3-none-any.whl"


def test_the_documented_commands_make_the_virtualenv_and_install_into_it(stages: Stages) -> None:
    for name, proc in stages.installs.items():
        assert proc.returncode == 0, (name, proc.stderr[-3000:])
    # kmsguard came from the wheel built here, not from any index.
    proc = sh(
        "venv/bin/python -c 'import kmsguard, sys; print(kmsguard.__file__, sys.prefix)'",
        stages.program,
    )
    where, prefix = proc.stdout.split()
    assert Path(prefix) == stages.program / "venv" and Path(where).is_relative_to(prefix)
    assert (Path(where).parent / "extras.py").read_text() == (
        REPO / "kmsguard/extras.py"
    ).read_text()


def test_the_wheel_alone_decides_and_proves(stages: Stages) -> None:
    expand = stages("wheel", STAGE_COMMANDS["wheel"][0])
    assert expand.returncode == 0 and "kms:Decrypt" in expand.stdout.split()
    decide = stages("wheel", STAGE_COMMANDS["wheel"][1])
    assert decide.returncode == 0, decide.stderr
    # What docs/evaluator.md says this scenario gives.
    assert '"effect": "allow"' in decide.stdout
    assert "allowed by the key policy statement 'AllowKeyUseViaDynamoDB'" in decide.stdout
    diff = stages("wheel", ACCESS_DIFF)
    assert diff.returncode == 1 and "newly allowed requests" in diff.stdout, diff.stderr


def test_the_wheel_installs_only_its_own_namespace(stages: Stages) -> None:
    proc = stages("wheel", STAGE_COMMANDS["wheel"][-1])
    assert proc.returncode == 0 and proc.stdout.split() == ["None", "None"], proc.stderr


def test_sarif_without_its_extra_names_the_extra(stages: Stages) -> None:
    proc = stages("wheel", f"{ACCESS_DIFF} --sarif diff.sarif")
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert "pip install 'kmsguard[sarif]'" in line and "sarif_pydantic" in line


@pytest.mark.parametrize("stage", ["wheel", "sarif"])
def test_kmsguard_preview_without_its_extra_names_the_extra(stages: Stages, stage: str) -> None:
    for command in (c for c in PREVIEW_COMMANDS if (stage, c) in stages.results):
        proc = stages(stage, command)
        assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
        assert "pip install 'kmsguard[preview]'" in one_line_error(proc), command


@pytest.mark.parametrize("stage", ["wheel", "preview"])
def test_kmsguard_audit_without_its_extra_names_the_extra(stages: Stages, stage: str) -> None:
    for command in AUDIT_COMMANDS:
        proc = stages(stage, command)
        assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
        assert "pip install 'kmsguard[audit]'" in one_line_error(proc), command


def test_audit_extra_runs_the_audit_commands(stages: Stages) -> None:
    for command in AUDIT_COMMANDS:
        proc = stages("audit", command)
        assert proc.returncode == 0 and "usage:" in proc.stdout, (command, proc.stderr)


def test_settings_doc_outside_a_checkout_says_where_it_runs(stages: Stages) -> None:
    for stage in ("wheel", "preview"):
        proc = stages(stage, SETTINGS_DOC)
        assert proc.returncode == 2
        line = one_line_error(proc)
        assert ("kmsguard[preview]" if stage == "wheel" else "checkout") in line, line


def test_sarif_extra_writes_sarif(stages: Stages) -> None:
    for command, out in (
        (STAGE_COMMANDS["sarif"][0], "diff.sarif"),
        (STAGE_COMMANDS["sarif"][1], "public.sarif"),
    ):
        proc = stages("sarif", command)
        assert proc.returncode == 1, (command, proc.stderr)
        assert json.loads((stages.program / out).read_text())["version"] == "2.1.0"


def test_preview_extra_gives_the_component(stages: Stages) -> None:
    proc = stages("preview", STAGE_COMMANDS["preview"][len(PREVIEW_COMMANDS)])
    assert proc.returncode == 0, proc.stderr


def test_preview_extra_runs_every_preview_command(stages: Stages) -> None:
    for command in PREVIEW_COMMANDS:
        proc = stages("preview", command)
        assert proc.returncode == 0 and "usage:" in proc.stdout, (command, proc.stderr)


def test_the_pack_archiver_outside_a_checkout_needs_the_pack_and_writes_to_dist(
    stages: Stages,
) -> None:
    alone = stages("preview", PACK)
    assert alone.returncode == 2 and "required: --pack" in alone.stderr, alone.stderr
    proc = stages("preview", f"{PACK} --pack policies")
    assert proc.returncode == 0, proc.stderr
    name = f"kmsguard-policies-{kmsguard.__version__}.tgz"
    assert f"policy pack archive: dist/{name}" in proc.stdout
    assert (stages.program / "dist" / name).is_file()


def test_a_pack_missing_its_requirements_names_them_and_the_command(stages: Stages) -> None:
    proc = stages(
        "preview", "venv/bin/kmsguard-preview --stack dev --policy-pack ../kmsguard/policies"
    )
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert "did not start" in line and "moto" in line, line
    # The Python that runs the pack is the program's (kmsguard-preview's own interpreter).
    python = re.search(r"runs it \(([^)]+)\)", line)
    assert python is not None and Path(python.group(1)).parent == stages.program / "venv" / "bin"
    requirements = REPO / "policies" / "requirements.txt"
    assert f"{python.group(1)} -m pip install -r {requirements}" in line, line


def test_kmsguard_preview_checks_ones_own_program(stages: Stages) -> None:
    command = documented_command("venv/bin/kmsguard-preview --stack").text
    proc = stages("docs", command)
    # docs/preview.md's examples table: compliant-table, exit 0, nothing reported.
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = json.loads((stages.program / "kmsguard.sarif").read_text())
    assert log["version"] == "2.1.0"
    assert [r for run in log["runs"] for r in run.get("results", [])] == []


def test_kmsguard_preview_with_two_packs_and_another_stack(stages: Stages) -> None:
    command = documented_command("venv/bin/kmsguard-preview --program").text
    proc = stages("docs", command)
    # The organization's pack wants an owner tag on every key (mandatory): exit 1.
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((stages.program / "report.json").read_text())
    assert [p["name"] for p in report[0]["packs"]] == ["kmsguard-policies", "acme-tags"]
    assert {v["policy"] for v in report[0]["violations"] if v["level"] == "mandatory"} == {
        "kms-key-owner-tag"
    }


def test_every_entry_point_of_the_wheel_is_run_here() -> None:
    """Each console script and `python -m` module of the distribution is in a stage above."""
    run = " ".join(c for commands in STAGE_COMMANDS.values() for c in commands)
    modules = {
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__main__")
        for p in (REPO / "kmsguard").rglob("*.py")
        if "__pycache__" not in p.parts and '__name__ == "__main__"' in p.read_text()
    }
    assert "kmsguard.access" in modules and "kmsguard.preview" in modules
    for module in modules:
        assert f"python -m {module} " in run + " ", module
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    for script in scripts:
        assert f"venv/bin/{script} " in run, script
