"""Command line: `python -m sandbox serve [--port 4599] [--state-dir DIR] ...` (see README.md)."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path
from typing import NoReturn

from kmsguard.org_policies import OrgPoliciesError, load_org_policies
from sandbox.server import is_loopback, serve
from sandbox.settings import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_REGION
from sandbox.state import StateError

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line naming the problem; the usage block would bury it.
        self.exit(2, f"python -m sandbox: error: {message} (see --help)\n")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535; 0 picks a free port)")
    return value


def _region(text: str) -> str:
    if not _REGION.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an AWS region name (e.g. us-east-1)")
    return text


def parser() -> argparse.ArgumentParser:
    root = _Parser(
        prog="python -m sandbox",
        description="Local AWS sandbox (DynamoDB, KMS, IAM, STS) enforcing IAM and key policies.",
    )
    commands = root.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve the sandbox until interrupted")
    run.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})"
    )
    run.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0 = a free port"
    )
    run.add_argument("--region", type=_region, default=DEFAULT_REGION, help="default us-east-1")
    run.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="permit binding a non-loopback address (the sandbox has no real authentication)",
    )
    run.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="keep state in this directory across restarts (default: in memory only)",
    )
    run.add_argument(
        "--org-policies",
        type=Path,
        default=None,
        metavar="DIR",
        help="the organization's SCPs and RCPs (scp-*.json, rcp-*.json, one level each) "
        "every request is evaluated within",
    )
    run.add_argument("--verbose", action="store_true", help="log every authorization decision")
    return root


def main(argv: list[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    if not args.allow_non_loopback and not is_loopback(args.host):
        cli.error(
            f"--host {args.host} is not a loopback address; use 127.0.0.1, ::1 or localhost "
            "(or pass --allow-non-loopback)"
        )
    if not is_loopback(args.host):
        print(
            f"sandbox: warning: serving on {args.host}, reachable beyond this machine; "
            "the sandbox's admin credentials are public",
            file=sys.stderr,
        )
    org = None
    if args.org_policies is not None:
        try:
            org = load_org_policies(args.org_policies)
        except OrgPoliciesError as exc:
            cli.error(f"--org-policies: {exc}")
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    logging.getLogger("sandbox").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        serve(args.host, args.port, args.region, state_dir=args.state_dir, org_policies=org)
    except KeyboardInterrupt:
        return 0  # interrupted while starting
    except StateError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror or exc} "
            "(--port 0 picks a free port)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
