"""`python -m preview`: the program and the policy pack without the Pulumi CLI."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from kmsguard.contract import ConfigKey
from preview.report import PHASES, render, run_all, to_json

_LEVELS = ("advisory", "disabled", "mandatory", "remediate")
_POLICY_CONFIG_SHAPE = 'expected {"<policy name>": {"enforcementLevel": ..., "<setting>": ...}}'


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parse_config(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--config {item!r}: expected KEY=VALUE (e.g. tableName=orders)")
        if key.removeprefix("kmsguard:") == ConfigKey.GRANT_TEST_USER_KEY_ACCESS:
            # Each phase sets it; a --config value would be silently overridden.
            raise ValueError(
                f"--config {item!r}: {ConfigKey.GRANT_TEST_USER_KEY_ACCESS} is set by --phase "
                "(denied: false, granted: true); choose the phase instead"
            )
        if key in out:
            raise ValueError(
                f"--config {key} is given twice ({out[key]!r}, then {value!r}); give each key once"
            )
        out[key] = value
    return out


def _setting_problem(value: Any, schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be a whole number"
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            return f"must be from {low} to {high}"
    elif kind == "boolean" and not isinstance(value, bool):
        return "must be true or false"
    elif kind == "string" and not isinstance(value, str):
        return "must be a string"
    elif kind == "array" and not (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    ):
        return "must be a list of strings"
    return None


def _policy_config_problems(data: dict[str, Any]) -> list[str]:
    """Check names, settings and values against the pack's own config schemas, as Pulumi does."""
    from policies.rules import POLICIES

    schemas = {
        p.name: dict(p.config_schema.properties) if p.config_schema else {} for p in POLICIES
    }
    problems: list[str] = []
    for name, settings in data.items():
        if name not in schemas:
            problems.append(f"{name!r}: no such policy; allowed: {', '.join(schemas)}")
            continue
        if not isinstance(settings, dict):
            problems.append(f"{name}: must be an object of settings")
            continue
        for key, value in settings.items():
            if key == "enforcementLevel":
                if value not in _LEVELS:
                    problems.append(
                        f"{name}.enforcementLevel = {value!r}: allowed: {', '.join(_LEVELS)}"
                    )
            elif key not in schemas[name]:
                allowed = ", ".join(["enforcementLevel", *schemas[name]])
                problems.append(f"{name}.{key}: unknown setting; allowed: {allowed}")
            elif problem := _setting_problem(value, schemas[name][key]):
                problems.append(f"{name}.{key} = {json.dumps(value)}: {problem}")
    return problems


def _policy_config(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"--policy-config {path}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ValueError(
            f"--policy-config {path}: not UTF-8 text; {_POLICY_CONFIG_SHAPE}"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"--policy-config {path}: not JSON (line {exc.lineno}: {exc.msg}); "
            f"{_POLICY_CONFIG_SHAPE}"
        ) from None
    except RecursionError:
        raise ValueError(f"--policy-config {path}: nested too deeply to read") from None
    if not isinstance(data, dict):
        raise ValueError(f"--policy-config {path}: {_POLICY_CONFIG_SHAPE}")
    problems = _policy_config_problems(data)
    if len(problems) == 1:
        raise ValueError(f"--policy-config {path}: {problems[0]}")
    if problems:
        listed = "".join(f"\n  - {p}" for p in problems)
        raise ValueError(f"--policy-config {path} ({len(problems)} problems):{listed}")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(
        prog="python -m preview",
        description=__doc__,
        epilog="Exit 0: no mandatory violation; 1: a mandatory violation; 2: bad input.",
    )
    parser.add_argument(
        "--phase",
        choices=[*PHASES, "both"],
        default="both",
        help="denied: the test user is not a key user (grantTestUserKeyAccess=false); "
        "granted: it is (true); both (default): one after the other",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--preview",
        dest="mode",
        action="store_const",
        const="preview",
        help="only as `pulumi preview` sees a new stack: ARNs and ids unknown",
    )
    mode.add_argument(
        "--update",
        dest="mode",
        action="store_const",
        const="update",
        help="only as `pulumi up` sees it: every output known (default: preview, then update)",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="stack config, repeatable, as `pulumi config set KEY VALUE` takes it "
        "(e.g. keyRotationPeriodDays=730 or aws:region=eu-west-1)",
    )
    parser.add_argument(
        "--policy-config",
        metavar="FILE",
        help="policy pack config, the JSON file `pulumi preview --policy-pack-config` takes: "
        "{policy: {setting: value}}",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the verdicts as JSON (one object per phase and mode) instead of tables",
    )
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
    code = 1 if any(o.mandatory for o in outcomes) else 0
    try:
        print(to_json(outcomes) if args.json else render(outcomes), flush=True)
    except BrokenPipeError:
        # The reader went away (`| head`): no traceback, the exit status still says the verdict.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code


if __name__ == "__main__":
    sys.exit(main())
