"""`kmsguard-audit`'s options and the checks on them, before anything is read from AWS."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

EXIT_OK, EXIT_FINDINGS, EXIT_BAD, EXIT_UNREADABLE = 0, 1, 2, 3
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
_ENDPOINT = re.compile(r"https?://[^\s/]+(/[^\s]*)?")
MAX_GLOBS = 100


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD, f"{self.prog}: error: {message}\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="kmsguard-audit",
        description="Audit the DynamoDB tables and KMS keys an AWS account already holds with "
        "the kmsguard policy pack and prover, read-only.",
        epilog="Exit 0: no mandatory finding; 1: mandatory findings; 2: bad input or no "
        "credentials (nothing written then); 3: some resource could not be read (and no "
        "mandatory finding: 1 wins over 3).",
    )
    p.add_argument("--profile", help="the AWS profile (default: the standard credential chain)")
    p.add_argument(
        "--region",
        action="append",
        default=[],
        help="a region to audit, repeatable (default: the session's region)",
    )
    p.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="an AWS-compatible endpoint for every service (e.g. the kmsguard sandbox)",
    )
    p.add_argument(
        "--policy-config",
        metavar="FILE",
        help="the pack's config, as kmsguard-preview and `pulumi preview --policy-pack-config` "
        "take it",
    )
    p.add_argument(
        "--org-policies",
        metavar="DIR",
        help="the organization's SCPs and RCPs (scp-*.json, rcp-*.json), as for the verifier",
    )
    p.add_argument(
        "--policy-pack", metavar="DIR", help="the policy pack directory (default: kmsguard's)"
    )
    p.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="only tables whose name, and keys whose alias (without alias/) or id, match; "
        "repeatable (keys of included tables are always judged)",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="leave out tables and keys that match; repeatable; wins over --include",
    )
    p.add_argument("--json", metavar="FILE", help="write the findings as JSON to FILE")
    p.add_argument("--sarif", metavar="FILE", help="write a SARIF 2.1.0 log to FILE")
    p.add_argument("--junit-xml", metavar="FILE", help="write a JUnit XML report to FILE")
    p.add_argument(
        "--prover-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds the prover may spend on one table (default: 10)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def check(args: argparse.Namespace) -> None:
    """ValueError naming the first bad option and what is allowed."""
    for option in ("json", "sarif", "junit_xml"):
        path = getattr(args, option)
        name = "--" + option.replace("_", "-")
        if path is not None and (not path or Path(path).is_dir()):
            raise ValueError(f"{name} {path!r}: give a file path (not a directory)")
    for region in args.region:
        if not _REGION.fullmatch(region):
            raise ValueError(
                f"--region {region[:60]!r}: not a region name (like us-east-1 or eu-west-3)"
            )
    if args.endpoint_url is not None and not _ENDPOINT.fullmatch(args.endpoint_url):
        raise ValueError(
            f"--endpoint-url {args.endpoint_url[:80]!r}: expected http(s)://host[:port][/path]"
        )
    globs = [*args.include, *args.exclude]
    if len(globs) > MAX_GLOBS:
        raise ValueError(f"{len(globs)} --include/--exclude globs: at most {MAX_GLOBS}")
    for g in globs:
        if not g or len(g) > 1024 or any(c in g for c in "\x00\n\r"):
            raise ValueError(
                f"--include/--exclude {g[:60]!r}: a glob of 1 to 1024 characters, one line"
            )
    if not 0.1 <= args.prover_timeout <= 3600:
        raise ValueError(f"--prover-timeout {args.prover_timeout}: from 0.1 to 3600 seconds")
