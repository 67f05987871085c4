"""The policy pack archive as `pulumi policy publish` builds it, and its unpacking by the CLI."""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pathspec

from kmsguard.preview.pack_dir import PACK_DIR, REPO, PackFileError, read_pack_file

# `pulumi policy publish` (pkg/backend/httpstate/policypack.go) archives a non-Node pack with
# archive.TGZ(dir, "package", useDefaultExcludes=true): every regular file under the pack
# directory, symlinks followed, prefixed with `package/`, skipping `.git` and whatever the
# .gitignore files of the pack directory, its subdirectories and all its ancestors exclude.
PREFIX = "package"
_IGNORE_FILE = ".gitignore"


class PackError(ValueError):
    """The directory is not a policy pack that can be archived."""


def pack_version(pack_dir: Path) -> str:
    """The `version` of PulumiPolicy.yaml: what the service publishes the pack as."""
    try:
        return read_pack_file(pack_dir).published_version()
    except PackFileError as err:
        raise PackError(str(err)) from None


def _spec(directory: Path) -> pathspec.GitIgnoreSpec | None:
    path = directory / _IGNORE_FILE
    if not path.is_file():
        return None
    return pathspec.GitIgnoreSpec.from_lines(path.read_text(encoding="utf-8").splitlines())


def _ignored(path: Path, specs: Sequence[tuple[Path, pathspec.GitIgnoreSpec]]) -> bool:
    return any(spec.match_file(path.relative_to(base).as_posix()) for base, spec in specs)


def pack_files(pack_dir: Path) -> Iterator[Path]:
    """The files `pulumi policy publish` puts in the archive, in a stable order."""
    root = pack_dir.resolve()
    specs = [(d, s) for d in reversed(root.parents) if (s := _spec(d)) is not None]

    def walk(
        directory: Path, inherited: list[tuple[Path, pathspec.GitIgnoreSpec]]
    ) -> Iterator[Path]:
        own = _spec(directory)
        active = [*inherited, (directory, own)] if own is not None else inherited
        for entry in sorted(directory.iterdir()):
            if entry.name == ".git":
                continue
            if entry.is_dir():  # follows symlinks, as the CLI does
                yield from walk(entry, active)
            elif entry.is_file() and not _ignored(entry, active):
                yield entry

    yield from walk(root, specs)


def build_archive(pack_dir: Path = PACK_DIR, out_dir: Path = REPO / "dist") -> Path:
    """Write `<name>-<version>.tgz` into `out_dir` and return its path."""
    pack_dir = pack_dir.resolve()
    if not (pack_dir / "PulumiPolicy.yaml").is_file():
        raise PackError(f"{pack_dir} has no PulumiPolicy.yaml: it is not a policy pack directory")
    version = pack_version(pack_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"kmsguard-policies-{version}.tgz"
    with tarfile.open(target, "w:gz") as tar:
        for path in pack_files(pack_dir):
            tar.add(path, arcname=f"{PREFIX}/{path.relative_to(pack_dir).as_posix()}")
    return target


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack as the CLI installs a published pack; return the pack directory it runs from."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            # The "data" filter refuses absolute paths, `..` and links leaving dest, as the CLI
            # does (archive.ExtractTGZ).
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as err:
        raise PackError(f"{archive}: {err}") from None
    pack_dir = dest / PREFIX
    if not (pack_dir / "PulumiPolicy.yaml").is_file():
        raise PackError(f"{archive}: no {PREFIX}/PulumiPolicy.yaml inside")
    return pack_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kmsguard.preview.pack",
        description="Build the policy pack archive exactly as `pulumi policy publish` uploads it.",
    )
    # In a checkout the defaults are its policies/ and dist/; installed from the distribution,
    # the pack is wherever it was unpacked, and the archive goes to ./dist.
    checkout = PACK_DIR.is_dir()
    parser.add_argument(
        "--pack",
        type=Path,
        default=PACK_DIR if checkout else None,
        required=not checkout,
        help="pack directory (in a checkout: policies/)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "dist" if checkout else Path("dist"),
        help="output directory (in a checkout: its dist/; else ./dist)",
    )
    args = parser.parse_args(argv)
    try:
        target = build_archive(args.pack, args.out)
    except (PackError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    count = sum(1 for _ in pack_files(args.pack))
    shown = os.path.relpath(target) if target.is_relative_to(Path.cwd()) else str(target)
    print(f"policy pack archive: {shown} ({count} files)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
