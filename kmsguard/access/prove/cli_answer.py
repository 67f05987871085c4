"""What every prover command shares: exit codes, bad input, answering, the SARIF log."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kmsguard import extras
from kmsguard.rule_text import RuleText

EXIT_NONE, EXIT_FOUND, EXIT_BAD, EXIT_UNKNOWN = 0, 1, 2, 3


class BadInput(Exception):
    """One clear message about an argument or file; the CLI exits 2."""


def answer(
    args: argparse.Namespace,
    command: str,
    ask: Callable[[], Any],
    write: Callable[[Any], None],
    show: Callable[[Any], None],
) -> int:
    """Ask, write `--sarif`, print, and exit as every prover command does: 0 none, 1 found,
    2 bad input (one line), 3 unknown."""
    try:
        if args.sarif and Path(args.sarif).is_dir():
            raise BadInput(f"--sarif {args.sarif}: is a directory; give a file path")
        if args.sarif and (problem := extras.problem("--sarif", "sarif")):
            raise BadInput(problem)
        verdict = ask()
        if args.sarif:
            write(verdict)
    except BadInput as exc:
        print(f"kmsguard.access {command}: {exc}", file=sys.stderr)
        return EXIT_BAD
    show(verdict)
    if verdict.status == "unknown":
        return EXIT_UNKNOWN
    return EXIT_FOUND if verdict.status == "fail" else EXIT_NONE


def write_sarif(
    args: argparse.Namespace,
    command: str,
    rule: Any,
    target: Path,
    verdict: Any,
    witness_result: Callable[[Any], Any],
) -> None:
    """`--sarif`: one mandatory result per witness, or one advisory result saying the question
    is undecided (undecided is not clean; the exit status is 3), written whole or not at all."""
    from kmsguard import sarif

    try:
        root = sarif.sarif_root(args.sarif_root, target.parent)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if verdict.status == "unknown":
        findings = [
            sarif.Finding(
                rule_id=rule.id,
                level="advisory",
                message=f"undecided: {verdict.reason}",
                path=target,
                properties={"status": "unknown"},
            )
        ]
    else:
        findings = [witness_result(w) for w in verdict.witnesses]
    properties: dict[str, Any] = {"question": verdict.question, "complete": verdict.complete}
    log = sarif.build(
        f"kmsguard.access {command}", "", [rule], findings, root=root, properties=properties
    )
    try:
        sarif.write_whole(args.sarif, sarif.to_json(log))
    except OSError as exc:
        raise BadInput(f"--sarif {args.sarif}: cannot write it ({exc.strerror})") from None


def witness_fingerprint(rule: RuleText, witness: Mapping[str, Any], where: str) -> dict[str, str]:
    """A witness's SARIF partialFingerprints: its rule, code, principal and actions on `where`."""
    from kmsguard.findings import FINGERPRINT, fingerprint

    actions = witness.get("actions") or [witness.get("action")]
    parts = [rule.witness_code, str(witness.get("principal")), *map(str, actions)]
    return {FINGERPRINT: fingerprint(rule.name, parts, where)}
