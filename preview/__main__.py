"""`python -m preview`: the program and the policy pack without the Pulumi CLI."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from preview.report import PHASES, render, run_all, to_json


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parse_config(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--config {item!r}: expected KEY=VALUE (e.g. tableName=orders)")
        out[key] = value
    return out


def _policy_config(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"--policy-config {path}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError(
            f"--policy-config {path}: expected a JSON object of policy name -> settings object"
        )
    return data


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m preview", description=__doc__)
    parser.add_argument("--phase", choices=[*PHASES, "both"], default="both")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--preview", dest="mode", action="store_const", const="preview")
    mode.add_argument("--update", dest="mode", action="store_const", const="update")
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--policy-config", metavar="FILE", help="JSON: {policy: {setting: value}}")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        config = _parse_config(args.config)
        policy_config = _policy_config(args.policy_config)
    except ValueError as exc:
        print(f"python -m preview: error: {exc}", file=sys.stderr)
        return 2
    phases = list(PHASES) if args.phase == "both" else [args.phase]
    modes = {"preview": [True], "update": [False], None: [True, False]}[args.mode]
    try:
        outcomes = run_all(phases, modes, config, policy_config)
    except Exception as exc:
        print(f"python -m preview: error: {exc}", file=sys.stderr)
        return 2
    print(to_json(outcomes) if args.json else render(outcomes))
    return 1 if any(o.mandatory for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
