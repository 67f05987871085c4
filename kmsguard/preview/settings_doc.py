"""The docs' table of the pack's settings, rendered from the rules' config schemas."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kmsguard.preview.pack_dir import REPO

if TYPE_CHECKING:
    from policies.meta import RuleMeta

START = (
    "<!-- policy-settings:start "
    "(venv/bin/python -m kmsguard.preview.settings_doc --write docs/organization.md) -->"
)
END = "<!-- policy-settings:end -->"


def _type(schema: Mapping[str, Any]) -> str:
    kind = str(schema.get("type", "any"))
    if kind == "array":
        return f"list of {schema.get('items', {}).get('type', 'any')}s"
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None or high is not None:
        return f"{kind} {'' if low is None else low}..{'' if high is None else high}"
    return kind


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(metas: Sequence[RuleMeta] | None = None) -> str:
    """One row per setting of every rule (default: the kmsguard pack's), in the pack's order."""
    if metas is None:
        from policies.rules import METAS

        metas = METAS
    rows = ["| policy | setting | type | default | meaning |", "|---|---|---|---|---|"]
    for meta in metas:
        for name, schema in meta.config.items():
            default = json.dumps(schema.get("default"))
            rows.append(
                f"| `{meta.name}` | `{name}` | {_type(schema)} | `{default}` | "
                f"{_cell(str(schema.get('description', '')))} |"
            )
    return "\n".join(rows) + "\n"


def splice(document: str, table: str) -> str:
    """`document` with the text between the markers replaced by `table`."""
    try:
        head, rest = document.split(START, 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        raise ValueError(f"markers not found: {START!r} ... {END!r}") from None
    return f"{head}{START}\n{table}{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kmsguard.preview.settings_doc",
        description="Print the policy settings table, or write it into a document's markers.",
    )
    parser.add_argument("--write", type=Path, metavar="FILE", help="e.g. docs/organization.md")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("policies") is None:
        # The pack is published from the repository's policies/, never with the distribution.
        print(
            f"error: {parser.prog} documents the kmsguard pack's settings from a checkout of "
            "the kmsguard repository (policies/ is not installed with the distribution); run "
            "it there: venv/bin/python -m kmsguard.preview.settings_doc",
            file=sys.stderr,
        )
        return 2
    table = render()
    if args.write is None:
        sys.stdout.write(table)
        return 0
    path = args.write if args.write.is_absolute() else Path.cwd() / args.write
    try:
        path.write_text(splice(path.read_text(encoding="utf-8"), table), encoding="utf-8")
    except (OSError, ValueError) as err:
        print(f"error: {path}: {err}", file=sys.stderr)
        return 2
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    print(f"wrote the policy settings table into {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
