"""kmsguard-preview on bad input: one message naming the file and problem, exit 2, no files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kmsguard import sarif
from kmsguard.preview.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def program(tmp_path: Path) -> Path:
    """A copy of a compliant example to break one file of."""
    dest = tmp_path / "program"
    shutil.copytree(EXAMPLES / "compliant-table", dest)
    return dest


def _fails(capsys, argv: list[str], tmp_path: Path, *words: str) -> str:
    out_json, out_sarif = tmp_path / "r.json", tmp_path / "r.sarif"
    out_sarif.write_text("earlier run")  # left as it was: never half-replaced
    code = main([*argv, "--json", str(out_json), "--sarif", str(out_sarif)])
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == 2, captured.out + captured.err
    assert err.startswith("kmsguard-preview: error: ")
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, err
    assert not out_json.exists() and out_sarif.read_text() == "earlier run"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".r.")] == []
    return err


def test_a_program_that_raises_names_its_file_and_line(program, tmp_path, capsys):
    main_py = program / "__main__.py"
    lines = main_py.read_text().splitlines()
    at = lines.index("table = aws.dynamodb.Table(")
    lines.insert(at, 'raise ValueError("no table today")')
    main_py.write_text("\n".join(lines) + "\n")
    _fails(
        capsys,
        ["--program", str(program), "--stack", "dev"],
        tmp_path,
        f"{main_py}:{at + 1}: the program raised ValueError: no table today",
    )


def test_a_program_that_exits_is_refused(program, tmp_path, capsys):
    (program / "__main__.py").write_text("import sys\nsys.exit(3)\n")
    _fails(capsys, ["--program", str(program)], tmp_path, "the program exited (sys.exit(3))")


def test_a_pulumi_error_in_the_program_is_one_line(program, tmp_path, capsys):
    (program / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (program / "__main__.py").write_text("import pulumi\npulumi.Config().require('missingKey')\n")
    _fails(capsys, ["--program", str(program)], tmp_path, "__main__.py:2: ", "missingKey")


@pytest.mark.parametrize(
    ("stack_file", "words"),
    [
        ("config: [1, 2\n", "Pulumi.dev.yaml: not valid YAML (line 2)"),
        ("- just\n- a list\n", "Pulumi.dev.yaml: expected a mapping with a `config:` section"),
        ("config:\n  orders:tableName:\n", "config orders:tableName has no value"),
        (
            "config:\n  orders:tableName:\n    secure: 42\n",
            "config orders:tableName: `secure:` must be the only field",
        ),
        (
            "config:\n  orders:tableName: [a, b]\n",
            'config orders:tableName = ["a", "b"]: must be of type string',
        ),
        ("config:\n  bad key!: 1\n", "config key 'bad key!': expected namespace:name"),
        (
            'config:\n  kmsguard:previewAccountId: "12345"\n',
            "config kmsguard:previewAccountId = '12345': must be 12 digits",
        ),
    ],
)
def test_a_bad_stack_file_value_names_the_file(program, tmp_path, capsys, stack_file, words):
    (program / "Pulumi.dev.yaml").write_text(stack_file)
    err = _fails(capsys, ["--program", str(program), "--stack", "dev"], tmp_path, words)
    assert str(program / "Pulumi.dev.yaml") in err


def test_a_declared_key_without_default_or_value_is_required(program, tmp_path, capsys):
    (program / "Pulumi.yaml").write_text(
        "name: orders\nruntime: python\nconfig:\n  owner:\n    type: string\n"
    )
    _fails(
        capsys,
        ["--program", str(program)],
        tmp_path,
        "missing configuration value orders:owner (declared in Pulumi.yaml with type string",
    )


@pytest.mark.parametrize(
    ("project_file", "words"),
    [
        (None, "Pulumi.yaml: no such file; --program must name a Pulumi project directory"),
        ("name: x\nruntime: nodejs\n", "runtime 'nodejs': only Python programs run here"),
        ("runtime: python\n", "Pulumi.yaml: name must be"),
        ("name: x\nruntime: python\nmain: src/\n", "main 'src/': no __main__.py in "),
        (
            "name: x\nruntime: python\nmain: nowhere/\n",
            "main 'nowhere/': no such file or directory",
        ),
    ],
)
def test_a_bad_project_file(program, tmp_path, capsys, project_file, words):
    (program / "src").mkdir()
    if project_file is None:
        (program / "Pulumi.yaml").unlink()
    else:
        (program / "Pulumi.yaml").write_text(project_file)
    _fails(capsys, ["--program", str(program)], tmp_path, words)


def test_an_explicit_stack_needs_its_stack_file(tmp_path, capsys):
    _fails(
        capsys,
        ["--program", str(EXAMPLES / "compliant-table"), "--stack", "prod"],
        tmp_path,
        "Pulumi.prod.yaml: no such file; --stack names Pulumi.<stack>.yaml",
    )


def test_an_unknown_policy_pack_directory(tmp_path, capsys):
    _fails(
        capsys,
        ["--program", str(EXAMPLES / "compliant-table"), "--policy-pack", "no/such/pack"],
        tmp_path,
        "--policy-pack no/such/pack: no such directory",
    )
    _fails(
        capsys,
        ["--program", str(EXAMPLES / "compliant-table"), "--policy-pack", str(EXAMPLES)],
        tmp_path,
        "no PulumiPolicy.yaml there; not a policy pack",
    )


def test_a_pack_that_does_not_start(tmp_path, capsys):
    pack = tmp_path / "broken-pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (pack / "__main__.py").write_text("import no_such_module_anywhere\n")
    err = _fails(
        capsys,
        ["--program", str(EXAMPLES / "compliant-table"), "--policy-pack", str(pack)],
        tmp_path,
        f"policy pack at {pack} did not start",
        "no_such_module_anywhere",
    )
    assert len(err) < 2500


def test_policy_config_per_pack_count_must_match(tmp_path, capsys):
    config = tmp_path / "c.json"
    config.write_text("{}")
    _fails(
        capsys,
        [
            "--program",
            str(EXAMPLES / "compliant-table"),
            "--policy-config",
            str(config),
            "--policy-config",
            str(config),
        ],
        tmp_path,
        "2 --policy-config for 1 policy pack(s)",
    )


def test_policy_config_checked_against_the_packs_own_schemas(tmp_path, capsys):
    config = tmp_path / "c.json"
    config.write_text('{"kms-key-deletion-window": {"minDeletionWindowDays": 3}}')
    _fails(
        capsys,
        ["--program", str(EXAMPLES / "compliant-table"), "--policy-config", str(config)],
        tmp_path,
        "kms-key-deletion-window.minDeletionWindowDays = 3: must be from 7 to 30",
    )


def test_phase_is_only_for_the_kmsguard_program(tmp_path, capsys):
    _fails(
        capsys,
        ["--program", str(EXAMPLES / "compliant-table"), "--phase", "denied"],
        tmp_path,
        "--phase applies to the kmsguard program only",
    )


def test_output_path_that_is_a_directory(tmp_path, capsys):
    code = main(["--program", str(EXAMPLES / "compliant-table"), "--sarif", str(tmp_path)])
    assert code == 2
    assert "--sarif" in capsys.readouterr().err


def test_write_whole_leaves_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "out.sarif"
    target.write_text("old")

    def refuse(src: str, dst: object) -> None:
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        sarif.write_whole(target, "new " * 1000)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.sarif"]


def test_write_whole_replaces_and_creates_directories(tmp_path):
    target = tmp_path / "reports" / "out.sarif"
    sarif.write_whole(target, "one")
    sarif.write_whole(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["out.sarif"]


def test_installed_without_the_pack_asks_for_one(tmp_path, capsys, monkeypatch):
    import kmsguard.preview.__main__ as cli

    monkeypatch.setattr(cli, "PACK_DIR", tmp_path / "site-packages" / "policies")
    _fails(
        capsys,
        ["--program", str(EXAMPLES / "compliant-table")],
        tmp_path,
        "the kmsguard pack is not installed with this distribution; give --policy-pack DIR",
    )


def test_nested_aliases_in_a_stack_file_are_refused_before_expanding(program, tmp_path, capsys):
    # Nine levels of ten aliases: 10^9 values once expanded, a few hundred bytes as YAML.
    lines = ["base: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        refs = ", ".join([f"*l{i - 1}"] * 10)
        lines.append(f"l{i}: &l{i} [{refs}]")
    lines.append("config:\n  orders:tableName: *l9")
    (program / "Pulumi.dev.yaml").write_text("\n".join(lines) + "\n")
    _fails(
        capsys,
        ["--program", str(program), "--stack", "dev"],
        tmp_path,
        "Pulumi.dev.yaml: more than 100,000 values once its aliases are expanded",
    )
