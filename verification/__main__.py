"""CLI: `python -m verification [--stack NAME | --outputs FILE] ...`; exit 0, 1 or 2."""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import NoReturn
from urllib.parse import urlparse

from rich.console import Console

from kmsguard.org_policies import OrgPolicies, OrgPoliciesError, load_org_policies
from verification.outputs import (
    VerificationInputError,
    load_outputs_file,
    load_stack_outputs,
)
from verification.report import EXIT_UNVERIFIABLE
from verification.runner import VerificationUnavailable, run


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, exit 2, as for any other bad input.
        self.exit(EXIT_UNVERIFIABLE, f"verification: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m verification",
        description="Prove, by acting as each principal, that a deployed kmsguard stack behaves "
        "as its accessExpectations say and is configured as declared. "
        "Exit 0: as expected; 1: mismatch (regression or drift); 2: could not verify.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--stack", help="read outputs with `pulumi stack output --json --show-secrets --stack NAME`"
    )
    source.add_argument("--outputs", metavar="FILE", help="read that JSON from FILE")
    p.add_argument(
        "--endpoint-url",
        metavar="URL",
        type=_endpoint,
        help="send every AWS call here (sandbox), e.g. http://127.0.0.1:4599",
    )
    p.add_argument("--region", type=_region, help="AWS region (default: the stack output region)")
    p.add_argument(
        "--settle-timeout",
        metavar="S",
        type=_seconds,
        default=None,
        help="seconds to wait for IAM/KMS changes to propagate "
        "(default 300, or 10 on a loopback endpoint)",
    )
    p.add_argument(
        "--stable-count",
        metavar="N",
        type=_count,
        default=3,
        help="identical consecutive results that make a probe settled (default 3)",
    )
    p.add_argument("--json", metavar="FILE", help="write the JSON report to FILE")
    p.add_argument("--junit-xml", metavar="FILE", help="write a JUnit XML report to FILE")
    p.add_argument("--no-explain", action="store_true", help="skip the policy explanation column")
    p.add_argument(
        "--org-policies",
        metavar="DIR",
        help="the organization's SCPs and RCPs (scp-*.json, rcp-*.json, one level each) for "
        "the explanations",
    )
    return p


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text} must be from 0 to 3600 seconds")
    return value


_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


def _region(text: str) -> str:
    if not _REGION.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an AWS region name (e.g. us-east-1)")
    return text


def _endpoint(text: str) -> str:
    allowed = "must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:4599"
    try:
        url = urlparse(text)
        _ = url.port  # raises ValueError on a bad or out-of-range port
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} {allowed} ({exc})") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} {allowed}")
    return text


def _report_path_problem(option: str, path: str) -> str | None:
    """Why a report can't be written to `path`, checked before the run rather than after it.

    Missing parent directories are created (CI writes `reports/...` into a fresh checkout).
    """
    target = Path(path)
    parent = target.parent
    if target.is_dir():
        return f"{option} {path} is a directory; give a file path"
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"{option} {path}: cannot create directory {parent}: {exc.strerror or exc}"
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        return f"{option} {path} is not writable"
    return None


def _count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 20:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number from 1 to 20")
    return int(text)


class _Stdout(Console):
    def on_broken_pipe(self) -> None:
        # The reader went away (`| head`). rich would exit 1 here; instead go on quietly, so the
        # JSON and JUnit reports are still written and the exit status still says what was found.
        self.quiet = True
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (CI cancelling a job) unwinds like Ctrl-C, so every finally block cleans up.
    raise KeyboardInterrupt


def _plain_progress(message: str) -> None:
    print(f"verification: {message}", file=sys.stderr, flush=True)


def _same_path_problem(args: argparse.Namespace) -> str | None:
    """Two files of one run at one path: the later write would silently replace the other."""
    seen: dict[Path, str] = {}
    for option in ("--outputs", "--json", "--junit-xml"):
        path = getattr(args, option[2:].replace("-", "_"), None)
        if path is None:
            continue
        where = Path(path).resolve()
        if where in seen:
            return f"{seen[where]} and {option} are both {path}; give each its own file"
        seen[where] = option
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for option, path in (("--json", args.json), ("--junit-xml", args.junit_xml)):
        if path is not None and (problem := _report_path_problem(option, path)):
            parser.error(problem)
    if problem := _same_path_problem(args):
        parser.error(problem)
    org = OrgPolicies()
    if args.org_policies is not None:
        try:
            org = load_org_policies(args.org_policies)
        except OrgPoliciesError as exc:
            parser.error(f"--org-policies: {exc}")
    signal.signal(signal.SIGTERM, _terminate)
    err = Console(stderr=True, highlight=False)
    # CI logs have no terminal width; a wide table keeps ARNs and actions on one line there.
    out = _Stdout(highlight=False, width=None if sys.stdout.isatty() else 200)
    try:
        facts = load_stack_outputs(args.stack) if args.stack else load_outputs_file(args.outputs)
        with ExitStack() as stack:
            if err.is_terminal:
                status = stack.enter_context(err.status("verifying", spinner="line"))
                progress: Callable[[str], None] = status.update
            else:
                # Piped or in CI a spinner prints nothing; plain lines show what it waits for.
                progress = _plain_progress
            report = run(
                facts,
                endpoint_url=args.endpoint_url,
                region=args.region,
                settle_timeout=args.settle_timeout,
                stable_count=args.stable_count,
                explain=not args.no_explain,
                progress=progress,
                org_policies=org,
            )
    except (VerificationInputError, VerificationUnavailable) as exc:
        print(f"verification: {exc}", file=sys.stderr)
        return EXIT_UNVERIFIABLE
    except Exception as exc:  # a bug or an unforeseen AWS answer: still one line and exit 2
        print(f"verification: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_UNVERIFIABLE
    except KeyboardInterrupt:
        print(
            "verification: interrupted; cleanup ran (a rerun removes anything left over)",
            file=sys.stderr,
        )
        return EXIT_UNVERIFIABLE
    report.render(out)
    try:
        if args.json:
            report.write_json(args.json)
        if args.junit_xml:
            report.write_junit(args.junit_xml)
    except OSError as exc:
        print(f"verification: cannot write report: {exc}", file=sys.stderr)
        return EXIT_UNVERIFIABLE
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
