"""What makes policies/ publishable and kmsguard installable, checked without building anything."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tarfile
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import kmsguard
from kmsguard.preview.pack import PackError, build_archive, pack_files, unpack
from kmsguard.preview.pack_dir import PACK_DIR, REPO

PACK_MODULES = sorted(p for p in PACK_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def _requirements(path: Path) -> list[Requirement]:
    lines = (ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines())
    return [Requirement(ln) for ln in lines if ln]


def _imports(paths: list[Path]) -> set[str]:
    """Top-level names of every absolute import in `paths`."""
    names: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _undeclared(modules: set[str], declared: set[str], own: str) -> list[str]:
    by_module = metadata.packages_distributions()
    problems = []
    for module in sorted(modules - set(sys.stdlib_module_names) - {own, "__future__"}):
        # A requirement is also known by its own name (kmsguard runs from the checkout here).
        dists = {canonicalize_name(d) for d in by_module.get(module, [])} | {
            canonicalize_name(module)
        }
        if not dists & declared:
            problems.append(f"{module} (distribution {sorted(dists) or 'unknown'})")
    return problems


def test_pulumipolicy_yaml_names_no_path_outside_the_pack() -> None:
    data = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert data["runtime"] == "python" or data["runtime"]["name"] == "python"

    def strings(value: object) -> list[str]:
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return [value] if isinstance(value, str) else []

    for text in strings(data):
        assert ".." not in Path(text).parts and not os.path.isabs(text), text


def test_pack_modules_do_not_edit_sys_path() -> None:
    for path in PACK_MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "path":
                assert not (isinstance(node.value, ast.Name) and node.value.id == "sys"), path


def test_pack_imports_only_its_own_modules_and_its_requirements() -> None:
    declared = {canonicalize_name(r.name) for r in _requirements(PACK_DIR / "requirements.txt")}
    # Nothing else of this repository (preview, sandbox, ...) exists where the pack is installed.
    assert _undeclared(_imports(PACK_MODULES), declared, own="policies") == []


KMSGUARD_SOURCES = sorted(
    p for p in (REPO / "kmsguard").rglob("*.py") if "__pycache__" not in p.parts
)


def _module_level_imports(path: Path) -> set[str]:
    """Full names imported when the module is imported (not in functions or TYPE_CHECKING)."""
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return names


def test_kmsguard_imports_only_declared_dependencies() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    reqs += [r for extra in project.get("optional-dependencies", {}).values() for r in extra]
    declared = {canonicalize_name(Requirement(r).name) for r in reqs}
    loaded = {n.split(".")[0] for p in KMSGUARD_SOURCES for n in _module_level_imports(p)}
    assert _undeclared(loaded, declared, own="kmsguard") == []
    # The repository's pack is read only by repository tools, lazily, with a message elsewhere.
    lazily = _imports(KMSGUARD_SOURCES) - loaded
    assert _undeclared(lazily, declared, own="kmsguard") == ["policies (distribution ['policies'])"]


def test_each_extra_provides_the_modules_its_commands_check_for() -> None:
    from kmsguard import extras

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    assert set(extras.EXTRAS) == set(optional)
    by_module = metadata.packages_distributions()
    for extra, modules in extras.EXTRAS.items():
        wanted = {canonicalize_name(Requirement(r).name) for r in optional[extra]}
        provided: set[str] = set()
        for module in modules:
            # A namespace such as `google` is shared: the module must come from a wanted one.
            dists = {canonicalize_name(d) for d in by_module.get(module.split(".")[0], [])}
            assert dists & wanted, (extra, module)
            provided |= dists & wanted
        assert provided == wanted, extra


def test_domain_modules_never_import_the_preview_tool() -> None:
    # kmsguard-audit is a tool too: it drives the pack through the preview's analyzer client.
    tools = (REPO / "kmsguard" / "preview", REPO / "kmsguard" / "audit")
    for path in KMSGUARD_SOURCES:
        if any(path.is_relative_to(t) for t in tools):
            continue
        imported = _imports([path]) | {
            n.module or ""
            for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(n, ast.ImportFrom)
        }
        assert not any(n.startswith("kmsguard.preview") for n in imported), path
        assert "from kmsguard import preview" not in path.read_text(encoding="utf-8"), path


@pytest.mark.parametrize(
    "path", [PACK_DIR / "requirements.txt", REPO / "requirements.txt"], ids=["pack", "repo"]
)
def test_every_requirement_has_a_lower_and_an_upper_bound(path: Path) -> None:
    for req in _requirements(path):
        ops = {s.operator for s in req.specifier}
        assert ops & {">=", ">", "~=", "=="} and ops & {"<", "<=", "~=", "=="}, str(req)


def test_one_version_for_the_distribution_the_pack_and_its_requirement() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "kmsguard.__version__"}
    pack = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert pack["version"] == kmsguard.__version__
    (kmsguard_req,) = [
        r for r in _requirements(PACK_DIR / "requirements.txt") if r.name == "kmsguard"
    ]
    assert kmsguard_req.specifier.contains(kmsguard.__version__)


def test_archive_holds_the_pack_directory_alone_without_ignored_files(tmp_path: Path) -> None:
    archive = build_archive(PACK_DIR, tmp_path)
    assert archive.name == f"kmsguard-policies-{kmsguard.__version__}.tgz"
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"package/PulumiPolicy.yaml", "package/__main__.py", "package/requirements.txt"} <= names
    expected = {f"package/{p.relative_to(PACK_DIR).as_posix()}" for p in PACK_MODULES}
    assert expected <= names
    assert all(n.startswith("package/") for n in names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_archive_follows_the_clis_gitignore_symlink_and_dot_git_rules(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    pack = repo / "pack"
    (pack / "sub" / "__pycache__").mkdir(parents=True)
    (pack / ".git").mkdir()
    (repo / ".gitignore").write_text("*.log\n/pack/top-only.txt\n")
    (pack / ".gitignore").write_text("secret.env\n")
    (pack / "sub" / ".gitignore").write_text("local.json\n")
    for rel in (
        "PulumiPolicy.yaml",
        "__main__.py",
        "debug.log",
        "top-only.txt",
        "secret.env",
        ".git/config",
        "sub/rule.py",
        "sub/local.json",
        "sub/__pycache__/rule.cpython-311.pyc",
    ):
        (pack / rel).write_text("version: 1.0.0\n" if rel == "PulumiPolicy.yaml" else "x\n")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "data.json").write_text("{}")
    (pack / "linked").symlink_to(shared, target_is_directory=True)
    got = {p.relative_to(pack).as_posix() for p in pack_files(pack)}
    # .gitignore files themselves are archived by the CLI, like any other file.
    assert got == {
        ".gitignore",
        "PulumiPolicy.yaml",
        "__main__.py",
        "sub/.gitignore",
        "sub/rule.py",
        "sub/__pycache__/rule.cpython-311.pyc",
        "linked/data.json",
    }


def test_unpack_refuses_entries_leaving_the_directory(tmp_path: Path) -> None:
    evil = tmp_path / "evil.tgz"
    payload = tmp_path / "payload"
    payload.write_text("x")
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(payload, arcname="package/PulumiPolicy.yaml")
        tar.add(payload, arcname="../escaped.txt")
    with pytest.raises(PackError, match="outside"):
        unpack(evil, tmp_path / "dest")
    assert not (tmp_path / "escaped.txt").exists()


def test_make_pack_cli_prints_where_the_archive_is(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kmsguard.preview.pack", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert str(tmp_path / f"kmsguard-policies-{kmsguard.__version__}.tgz") in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "kmsguard.preview.pack", "--pack", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "has no PulumiPolicy.yaml" in bad.stderr


def test_pack_started_without_a_requirement_names_it_instead_of_a_traceback(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    unpack(build_archive(PACK_DIR, tmp_path), tmp_path).rename(pack)
    with (pack / "requirements.txt").open("a") as f:
        f.write("kmsguard-absent-dependency>=1,<2\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-m", "pulumi.policy", "127.0.0.1:1", str(pack)],
        cwd=pack,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    first = proc.stderr.splitlines()[0]
    assert "kmsguard-absent-dependency" in first
    assert f"{sys.executable} -m pip install -r {pack / 'requirements.txt'}" in proc.stderr
