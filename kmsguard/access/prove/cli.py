"""`diff` and `public`: the prover's questions on key policy files, for a pull-request review."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from kmsguard.access.arn import is_account_id
from kmsguard.access.catalog import (
    SUGGESTED_PER_DOCUMENT,
    closest_actions,
    describe_request,
    expand_actions,
    quoted,
    unknown_actions,
)
from kmsguard.access.errors import PolicyDocumentError
from kmsguard.access.policy import Policy, parse_policy
from kmsguard.access.prove.cli_answer import (
    BadInput,
    answer,
    witness_fingerprint,
    write_sarif,
)
from kmsguard.access.prove.questions import no_new_access, no_public_access
from kmsguard.access.prove.search import DEFAULT_TIMEOUT_S
from kmsguard.access.prove.universe import Key
from kmsguard.access.prove.verdict import Verdict, Witness
from kmsguard.rule_text import NO_NEW_ACCESS, NO_PUBLIC_PRINCIPAL

MAX_ROWS = 25
ORG_ID = re.compile(r"o-[a-z0-9]{10,32}")


def add_commands(sub: Any) -> None:
    """Register `diff` and `public` on the access CLI's subparsers."""
    d = sub.add_parser(
        "diff",
        help="requests NEW key policy allows that OLD does not (exit 1 if any, 0 if none)",
    )
    d.add_argument("old", metavar="OLD.json")
    d.add_argument("new", metavar="NEW.json")
    d.add_argument(
        "--action", action="append", default=[], help="only these actions (wildcards allowed)"
    )
    d.add_argument(
        "--account",
        help="the key's account (default: unknown, every account that may own the key is checked)",
    )
    add_common_options(d)
    p = sub.add_parser(
        "public",
        help="requests a key policy allows to principals outside the trusted accounts/orgs",
    )
    p.add_argument("policy", metavar="POLICY.json")
    p.add_argument(
        "--account",
        action="append",
        required=True,
        help="the key's account (first) and other trusted accounts",
    )
    p.add_argument("--org", action="append", default=[], help="a trusted organization id")
    p.add_argument(
        "--action", action="append", default=[], help="only these actions (wildcards allowed)"
    )
    add_common_options(p)


def add_common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.add_argument(
        "--sarif",
        metavar="FILE",
        help="also write the findings as a SARIF 2.1.0 log for code scanning (whole or not at all)",
    )
    p.add_argument(
        "--sarif-root",
        metavar="DIR",
        help="make SARIF artifact URIs relative to DIR (default: the top level of the git "
        "repository holding the policy file, else the current directory)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds per solver query (default {DEFAULT_TIMEOUT_S:g}); over it: unknown, exit 3",
    )


def run(args: argparse.Namespace) -> int:
    return answer(
        args,
        args.command,
        lambda: _diff(args) if args.command == "diff" else _public(args),
        lambda verdict: _write_sarif(verdict, args),
        lambda verdict: _print(verdict, args.json, args.command),
    )


# The pack's rules asking the same questions: code-scanning alerts line up with the pack's.
# The pack's rule each command answers for: its SARIF carries that rule's own words.
_SARIF_RULES = {"diff": NO_NEW_ACCESS, "public": NO_PUBLIC_PRINCIPAL}


def _write_sarif(verdict: Verdict, args: argparse.Namespace) -> None:
    from kmsguard import sarif

    text = _SARIF_RULES[args.command]
    rule_id = text.name
    # Mandatory whatever the pack's default level: the command fails (exit 1) on any witness.
    rule = sarif.Rule(
        id=rule_id,
        short=text.description,
        full=text.description,
        help=text.remediation,
        level="mandatory",
        severity=text.severity,
    )
    target = Path(args.new if args.command == "diff" else args.policy)
    lines = _statement_lines(target)

    def result(w: Witness) -> sarif.Finding:
        return sarif.Finding(
            rule_id=rule_id,
            level="mandatory",
            message=describe_request(
                w.principal, w.actions or (w.action,), w.context, w.identity_assumed
            )
            + (" (NEW allows it, OLD does not)" if args.command == "diff" else ""),
            path=target,
            line=_line_of(w, target, lines),
            logical_name=w.resource,
            logical_kind="aws:kms/key",
            properties={"code": text.witness_code, **w.to_json()},
            fingerprints=witness_fingerprint(text, w.to_json(), w.resource),
        )

    write_sarif(args, args.command, rule, target, verdict, result)


def _statement_lines(path: Path) -> list[int]:
    from kmsguard.sarif import statement_lines

    try:
        return statement_lines(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return []


# A principal whose own IAM policies the witness assumes: they allow whatever the key allows.
_ANY_IDENTITY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def _line_of(w: Witness, path: Path, lines: list[int]) -> int | None:
    """The line of the statement that allows the witness's request (the evaluator says which)."""
    from kmsguard.access.evaluate import evaluate

    try:
        policy = parse_policy(path.read_text(encoding="utf-8"), kind="resource")
        decision = evaluate(
            w.principal,
            w.action,
            w.resource,
            identity_policies=[_ANY_IDENTITY] if w.identity_assumed else [],
            resource_policy=policy,
            context=w.context,
        )
    except (OSError, UnicodeDecodeError, PolicyDocumentError):
        return None
    for ref in decision.statements:
        if ref.layer == "resource" and ref.effect == "Allow" and ref.index < len(lines):
            return lines[ref.index]
    return None


def _load(path: str) -> Policy:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read it ({exc.__class__.__name__}: {exc})") from None
    try:
        policy = parse_policy(text, kind="resource")
    except PolicyDocumentError as exc:
        raise BadInput(f"{path}: {exc}") from None
    # A misspelt action matches nothing: the verdict is right about the policy as written, but
    # the author meant something else, so say so beside it (stderr keeps --json clean).
    for i, (where, action) in enumerate(unknown_actions(policy)):
        close = closest_actions(action) if i < SUGGESTED_PER_DOCUMENT else []
        hint = f" (closest: {', '.join(close)})" if close else ""
        print(
            f"kmsguard.access: warning: {path} {where}: {quoted(action)} matches no action in "
            f"the IAM catalog, so it grants or denies nothing{hint}",
            file=sys.stderr,
        )
    return policy


def _actions(patterns: list[str]) -> list[str] | None:
    out: list[str] = []
    for p in patterns:
        try:
            hits = expand_actions(p)
        except ValueError as exc:
            raise BadInput(f"--action {p!r}: {exc}") from None
        if not hits:
            raise BadInput(f"--action {p!r} matches no action in the IAM catalog")
        out += hits
    return out or None


def checked_timeout(value: float) -> float:
    if not value > 0:
        raise BadInput(f"--timeout {value!r}: must be a positive number of seconds")
    return value


def _account(value: str) -> str:
    if not is_account_id(value):
        raise BadInput(f"--account {value!r}: must be a 12-digit AWS account id")
    return value


def _diff(args: argparse.Namespace) -> Verdict:
    old, new = _load(args.old), _load(args.new)
    # Without --account the key's account is unknown: every account that may own it is asked.
    key = Key.in_account(_account(args.account)) if args.account else None
    return no_new_access(
        old,
        new,
        key=key,
        actions=_actions(args.action),
        timeout_s=checked_timeout(args.timeout),
        limit=MAX_ROWS,
    )


def _public(args: argparse.Namespace) -> Verdict:
    policy = _load(args.policy)
    accounts = [_account(a) for a in args.account]
    for org in args.org:
        if not ORG_ID.fullmatch(org):
            raise BadInput(f"--org {org!r}: must be an organization id like o-a1b2c3d4e5")
    return no_public_access(
        policy,
        accounts,
        args.org,
        key=Key.in_account(accounts[0]),
        actions=_actions(args.action),
        timeout_s=checked_timeout(args.timeout),
        limit=MAX_ROWS,
    )


def _print(verdict: Verdict, as_json: bool, command: str) -> None:
    if as_json:
        json.dump(verdict.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    if verdict.status == "unknown":
        print(f"unknown: {verdict.reason}")
    elif verdict.status == "pass":
        print(
            "no new access: every request NEW allows, OLD allows too"
            if command == "diff"
            else "not public: only the trusted accounts and organizations are allowed"
        )
        return
    else:
        head = "newly allowed requests" if command == "diff" else "requests from outside allowed"
        print(f"{head} (one row per kind of principal and account):")
    rows = [
        (
            w.principal,
            ", ".join(w.actions or (w.action,)),
            ", ".join(f"{k}={v}" for k, v in w.context.items()) or "-",
            "its own IAM policies must allow it" if w.identity_assumed else "",
        )
        for w in verdict.witnesses
    ]
    header = ("principal", "actions", "context", "note")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for r in [header, *rows]:
        print("  ".join(r[i].ljust(widths[i]) for i in range(3)) + ("  " + r[3] if r[3] else ""))
    if not verdict.complete:
        print(f"(stopped after {len(rows)} rows; more kinds may exist)")
