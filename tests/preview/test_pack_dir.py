"""A pack directory: PulumiPolicy.yaml is read once, so the preview and the archive agree on it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kmsguard.preview.analyzer import AnalyzerError, PolicyPackClient
from kmsguard.preview.pack import PackError, build_archive
from kmsguard.preview.pack_dir import PackFileError, read_pack_file


def _pack(tmp_path: Path, text: str) -> Path:
    pack = tmp_path / "pack"
    pack.mkdir(exist_ok=True)
    (pack / "PulumiPolicy.yaml").write_text(text)
    return pack


def test_the_version_and_the_python_as_the_cli_reads_them(tmp_path: Path) -> None:
    pack = _pack(tmp_path, "runtime:\n  name: python\n  options:\n    virtualenv: venv\n")
    assert read_pack_file(pack).python() == sys.executable  # the named virtualenv is absent
    python = pack / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    found = read_pack_file(pack)
    assert (found.python(), found.version) == (str(python.absolute()), "")
    with pytest.raises(PackFileError, match="needs a `version` string"):
        found.published_version()


@pytest.mark.parametrize("version", ["1.10", "2", "true"])
def test_an_unquoted_version_is_refused_by_the_preview_and_the_archive_alike(
    tmp_path: Path, version: str
) -> None:
    # Both read it once: the preview took 1.10 as "1.1" while the archive refused it.
    pack = _pack(tmp_path, f"runtime: python\nversion: {version}\n")
    with pytest.raises(AnalyzerError, match="`version` must be a quoted string"):
        PolicyPackClient(pack)
    with pytest.raises(PackError, match="`version` must be a quoted string"):
        build_archive(pack, tmp_path / "dist")


def test_invalid_yaml_names_its_line_to_both(tmp_path: Path) -> None:
    pack = _pack(tmp_path, "runtime: python\nversion: [1.0.0\n")
    with pytest.raises(AnalyzerError, match=r"not valid YAML \(line 3\)"):
        PolicyPackClient(pack)
    with pytest.raises(PackError, match=r"not valid YAML \(line 3\)"):
        build_archive(pack, tmp_path / "dist")


def test_a_billion_laughs_pack_file_is_refused_before_it_expands(tmp_path: Path) -> None:
    # The same reader as Pulumi.yaml's: nested aliases are counted, never expanded.
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    pack = _pack(tmp_path, "runtime: python\nversion: '1.0.0'\n" + "\n".join(lines) + "\n")
    with pytest.raises(PackFileError, match="once its aliases are expanded"):
        read_pack_file(pack)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("runtime: nodejs\nversion: 1.0.0\n", "runtime 'nodejs': only Python packs"),
        ("- runtime\n", "expected a mapping with runtime and version"),
        (b"runtime: \xff\n", "not UTF-8 text"),
    ],
)
def test_a_pack_the_preview_cannot_start_is_named_in_one_line(
    tmp_path: Path, text: str | bytes, message: str
) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    target = pack / "PulumiPolicy.yaml"
    target.write_bytes(text) if isinstance(text, bytes) else target.write_text(text)
    with pytest.raises(AnalyzerError) as err:
        PolicyPackClient(pack)
    assert message in str(err.value) and "\n" not in str(err.value)
