"""`kmsguard-preview`: a Pulumi Python program and its policy packs, without CLI or cloud."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import grpc

from kmsguard import sarif
from kmsguard.contract import PROJECT, ConfigKey
from kmsguard.preview import policy_config
from kmsguard.preview.analyzer import AnalyzerError, PolicyPackClient
from kmsguard.preview.diagnostics import PackInfo
from kmsguard.preview.pack_dir import PACK_DIR
from kmsguard.preview.program import ProgramFailed, run_project
from kmsguard.preview.project import Project, apply_overrides, load
from kmsguard.preview.report import PHASES, Outcome, judge, render, to_json
from kmsguard.preview.sarif import build as build_sarif


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parse_config(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--config {item!r}: expected KEY=VALUE (e.g. tableName=orders)")
        if key in out:
            raise ValueError(
                f"--config {key} is given twice ({out[key]!r}, then {value!r}); give each key once"
            )
        out[key] = value
    return out


def _check_phase_config(items: list[str]) -> None:
    for item in items:
        key = item.partition("=")[0]
        if key.removeprefix(f"{PROJECT}:") == ConfigKey.GRANT_TEST_USER_KEY_ACCESS:
            # Each phase sets it; a --config value would be silently overridden.
            raise ValueError(
                f"--config {item!r}: {ConfigKey.GRANT_TEST_USER_KEY_ACCESS} is set by --phase "
                "(denied: false, granted: true); choose the phase instead"
            )


def _check_output(option: str, path: str | None) -> None:
    if path and path != "-" and Path(path).is_dir():
        raise ValueError(f"{option} {path}: is a directory; give a file path")


def _pack_dirs(given: list[str]) -> list[Path]:
    if not given and not PACK_DIR.is_dir():
        # Installed from the distribution: the pack is published on its own (make pack).
        raise ValueError(
            "no policy pack: the kmsguard pack is not installed with this distribution; give "
            "--policy-pack DIR (the pack's directory, e.g. an unpacked `make pack` archive)"
        )
    dirs = [Path(d) for d in given] or [PACK_DIR]
    for d in dirs:
        if not d.is_dir():
            raise ValueError(f"--policy-pack {d}: no such directory")
        if not (d / "PulumiPolicy.yaml").is_file():
            raise ValueError(f"--policy-pack {d}: no PulumiPolicy.yaml there; not a policy pack")
    return dirs


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kmsguard-preview",
        description=__doc__,
        epilog="Exit 0: no mandatory violation; 1: a mandatory violation; 2: bad input "
        "(nothing written then).",
    )
    parser.add_argument(
        "--program",
        metavar="DIR",
        default=".",
        help="the Pulumi project directory: Pulumi.yaml with runtime python (default: .)",
    )
    parser.add_argument(
        "--stack",
        metavar="NAME",
        help="read the stack config from Pulumi.NAME.yaml (default: dev, if that file exists)",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="stack config, repeatable, as `pulumi config set KEY VALUE` takes it; wins over "
        "the stack file (e.g. aws:region=eu-west-1, kmsguard:previewAccountId=111122223333)",
    )
    parser.add_argument(
        "--policy-pack",
        action="append",
        default=[],
        metavar="DIR",
        help="a Python policy pack directory, repeatable (default: the kmsguard pack)",
    )
    parser.add_argument(
        "--policy-config",
        action="append",
        default=[],
        metavar="FILE",
        help="policy pack config, the JSON file `pulumi preview --policy-pack-config` takes "
        '({"all": "advisory", "<policy>": {"enforcementLevel": ..., "<setting>": ...}}); one '
        "per --policy-pack, in the same order",
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write the verdicts as JSON to FILE (one object per phase and mode); alone: print "
        "them instead of the text",
    )
    parser.add_argument(
        "--sarif", metavar="FILE", help="write a SARIF 2.1.0 log for code scanning to FILE"
    )
    parser.add_argument(
        "--sarif-root",
        metavar="DIR",
        help="make SARIF artifact URIs relative to DIR (default: the top level of the git "
        "repository holding the program, else the current directory)",
    )
    parser.add_argument(
        "--phase",
        choices=[*PHASES, "both"],
        help="the kmsguard program only: denied: the test user is not a key user "
        "(grantTestUserKeyAccess=false); granted: it is (true); both (default): one after the "
        "other",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--preview",
        dest="mode",
        action="store_const",
        const="preview",
        help="only as `pulumi preview` sees a new stack: ARNs and ids unknown (the default "
        "for programs other than kmsguard)",
    )
    mode.add_argument(
        "--update",
        dest="mode",
        action="store_const",
        const="update",
        help="only as `pulumi up` sees it: every output known (kmsguard's default: preview, "
        "then update)",
    )
    return parser


def _fail(prog: str, message: str) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


def _start_packs(
    stack: ExitStack,
    dirs: list[Path],
    configs: list[tuple[str, dict[str, Any]]],
    project: Project,
    preview: bool,
) -> tuple[list[PolicyPackClient], list[PackInfo]]:
    clients: list[PolicyPackClient] = []
    infos: list[PackInfo] = []
    for i, d in enumerate(dirs):
        client = stack.enter_context(
            PolicyPackClient(d, project=project.name, stack=project.stack, preview=preview)
        )
        info = client.describe()
        if configs:
            path, data = configs[i]
            schemas = {p.name: dict(p.config_schema) for p in info.policies}
            required = {p.name: p.config_required for p in info.policies}
            policy_config.check(path, data, schemas, required)
            client.configure(policy_config.normalize(data, list(schemas)))
        clients.append(client)
        infos.append(info)
    return clients, infos


def evaluate(args: argparse.Namespace, config: dict[str, str]) -> tuple[list[Outcome], Project]:
    """Load, run and judge; raises ValueError (bad input) or a start/run failure."""
    project = load(args.program, args.stack or "dev", stack_required=args.stack is not None)
    apply_overrides(project, config)
    kmsguard_program = project.name == PROJECT
    if args.phase and not kmsguard_program:
        raise ValueError(
            f"--phase applies to the kmsguard program only; {project.directory} is "
            f"project {project.name!r}"
        )
    if kmsguard_program:
        _check_phase_config(args.config)
        choice = args.phase or "both"
        phases: list[str | None] = list(PHASES) if choice == "both" else [choice]
    else:
        phases = [None]
    default_modes = [True, False] if kmsguard_program else [True]
    modes = {"preview": [True], "update": [False], None: default_modes}[args.mode]
    dirs = _pack_dirs(args.policy_pack)
    if args.policy_config and len(args.policy_config) != len(dirs):
        raise ValueError(
            f"{len(args.policy_config)} --policy-config for {len(dirs)} policy pack(s): give "
            "none, or one per --policy-pack in the same order"
        )
    configs = [(p, policy_config.read(p)) for p in args.policy_config]
    outcomes: list[Outcome] = []
    for preview in modes:
        with ExitStack() as stack:
            clients, infos = _start_packs(stack, dirs, configs, project, preview)
            for phase in phases:
                extra = (
                    {f"{PROJECT}:{ConfigKey.GRANT_TEST_USER_KEY_ACCESS}": _bool(PHASES[phase])}
                    if phase
                    else {}
                )
                run = run_project(project, preview=preview, extra_config=extra)
                outcomes.append(judge(run, clients, infos, phase))
    order = {p: i for i, p in enumerate(phases)}
    outcomes.sort(key=lambda o: (order[o.phase], not o.preview))
    return outcomes, project


def _bool(value: bool) -> str:
    return "true" if value else "false"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    prog = parser.prog
    try:
        config = _parse_config(args.config)
        _check_output("--json", args.json)
        _check_output("--sarif", args.sarif)
        if args.sarif_root and not Path(args.sarif_root).is_dir():
            # Said before the program runs, not after.
            raise ValueError(f"--sarif-root {args.sarif_root}: no such directory")
        outcomes, project = evaluate(args, config)
        root = sarif.sarif_root(args.sarif_root, project.directory)
    except (ValueError, AnalyzerError, ProgramFailed) as exc:
        return _fail(prog, str(exc))
    except grpc.RpcError as exc:
        return _fail(prog, f"a policy pack failed: {exc.details()}")
    code = 1 if any(o.mandatory for o in outcomes) else 0
    try:
        # Every report is complete before any file is written; each file is whole or absent.
        texts: list[tuple[str, str]] = []
        if args.json and args.json != "-":
            texts.append((args.json, to_json(outcomes) + "\n"))
        if args.sarif:
            log = build_sarif(outcomes, project.directory, project.main, root)
            texts.append((args.sarif, sarif.to_json(log)))
        for path, text in texts:
            sarif.write_whole(path, text)
    except OSError as exc:
        return _fail(prog, f"{exc.filename}: cannot write it ({exc.strerror})")
    try:
        print(to_json(outcomes) if args.json == "-" else render(outcomes), flush=True)
    except BrokenPipeError:
        # The reader went away (`| head`): no traceback, the exit status still says the verdict.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code


if __name__ == "__main__":
    sys.exit(main())
