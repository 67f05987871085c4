"""`readers`: who can read a table's items, from policy files, for a pull-request review."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kmsguard.access.arn import is_account_id
from kmsguard.access.errors import PolicyDocumentError
from kmsguard.access.prove.cli import MAX_ROWS, ORG_ID, add_common_options, checked_timeout
from kmsguard.access.prove.cli_answer import BadInput, answer, witness_fingerprint, write_sarif
from kmsguard.access.prove.readers import ReadersVerdict, readers
from kmsguard.rule_text import TABLE_READERS

RULE = TABLE_READERS


def add_command(sub: Any) -> None:
    """Register `readers` on the access CLI's subparsers."""
    p = sub.add_parser(
        "readers",
        help="principals outside the declared readers that can read a table's items "
        "(exit 1 if any, 0 if none)",
        description="Every principal for which some read path succeeds end to end: DynamoDB "
        "allows the read (identity and/or the table's or stream's policy) and, for a customer "
        "managed key, the key lets DynamoDB decrypt for it.",
    )
    p.add_argument("--table", required=True, metavar="ARN", help="the table's ARN")
    key = p.add_mutually_exclusive_group(required=True)
    key.add_argument("--key-policy", metavar="FILE", help="the table's customer managed key policy")
    key.add_argument(
        "--aws-owned-key",
        action="store_true",
        help="the table uses an AWS owned or AWS managed key: only DynamoDB's side decides",
    )
    p.add_argument(
        "--key", metavar="ARN", help="the key's ARN (default: one of the table's account)"
    )
    p.add_argument("--table-policy", metavar="FILE", help="the table's resource-based policy")
    p.add_argument("--stream", metavar="ARN", help="the table's stream ARN (if it has one)")
    p.add_argument("--stream-policy", metavar="FILE", help="the stream's resource-based policy")
    p.add_argument("--index", action="append", default=[], metavar="NAME", help="an index name")
    p.add_argument(
        "--identities",
        metavar="FILE",
        help='{"<principal ARN>": [identity policy, ...]} for the principals you know',
    )
    p.add_argument(
        "--closed-account",
        action="append",
        default=[],
        metavar="ACCOUNT",
        help="an account whose every identity policy is in --identities",
    )
    p.add_argument("--boundaries", metavar="FILE", help='{"<principal ARN>": permissions boundary}')
    p.add_argument("--scps", metavar="FILE", help="[SCP, ...]: one document per level")
    p.add_argument(
        "--scp-account",
        action="append",
        default=None,
        metavar="ACCOUNT",
        help="an account the SCPs bind (default: the table's)",
    )
    p.add_argument("--rcps", metavar="FILE", help="[RCP, ...]: one document per level")
    p.add_argument("--grants", metavar="FILE", help="the key's grants (ListGrants output)")
    p.add_argument("--reader", action="append", default=[], metavar="ARN", help="a declared reader")
    p.add_argument(
        "--account", action="append", default=[], metavar="ACCOUNT", help="a trusted account"
    )
    p.add_argument("--org", action="append", default=[], help="a trusted organization id")
    add_common_options(p)


def run(args: argparse.Namespace) -> int:
    return answer(
        args,
        "readers",
        lambda: _ask(args),
        lambda verdict: _write_sarif(verdict, args),
        lambda verdict: _print(verdict, args.json),
    )


def _json(path: str | None, flag: str, shape: type) -> Any:
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{flag} {path}: cannot read it ({exc.__class__.__name__}: {exc})") from None
    except ValueError as exc:
        raise BadInput(f"{flag} {path}: not JSON ({exc})") from None
    if flag == "--grants" and isinstance(data, Mapping) and "Grants" in data:
        data = data["Grants"]  # as `aws kms list-grants` prints it
    if not isinstance(data, shape):
        what = "an object" if shape is dict else "a list" if shape is list else "a JSON object"
        raise BadInput(f"{flag} {path}: must be {what}")
    return data


def _ask(args: argparse.Namespace) -> ReadersVerdict:
    for flag, values in (
        ("--closed-account", args.closed_account),
        ("--account", args.account),
        ("--scp-account", args.scp_account or []),
    ):
        for a in values:
            if not is_account_id(a):
                raise BadInput(f"{flag} {a!r}: must be a 12-digit AWS account id")
    for org in args.org:
        if not ORG_ID.fullmatch(org):
            raise BadInput(f"--org {org!r}: must be an organization id like o-a1b2c3d4e5")
    if (args.stream is None) != (args.stream_policy is None) and args.stream_policy:
        raise BadInput("--stream-policy needs --stream (the stream's ARN)")
    identities = _json(args.identities, "--identities", dict) or {}
    for arn, docs in identities.items():
        if not isinstance(docs, list):
            raise BadInput(f"--identities: the value for {arn!r} must be a list of policies")
    try:
        return readers(
            args.table,
            key_policy=None if args.aws_owned_key else _json(args.key_policy, "--key-policy", dict),
            key_arn=args.key,
            table_policy=_json(args.table_policy, "--table-policy", dict),
            stream_arn=args.stream,
            stream_policy=_json(args.stream_policy, "--stream-policy", dict),
            indexes=args.index,
            identities=identities,
            closed_accounts=args.closed_account,
            boundaries=_json(args.boundaries, "--boundaries", dict) or {},
            scps=_json(args.scps, "--scps", list) or [],
            scp_accounts=args.scp_account,
            rcps=_json(args.rcps, "--rcps", list) or [],
            grants=_json(args.grants, "--grants", list) or [],
            declared=args.reader,
            trusted_accounts=args.account,
            trusted_orgs=args.org,
            timeout_s=checked_timeout(args.timeout),
            limit=MAX_ROWS,
        )
    except PolicyDocumentError as exc:
        raise BadInput(str(exc)) from None
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def _write_sarif(verdict: ReadersVerdict, args: argparse.Namespace) -> None:
    from kmsguard import sarif

    # Mandatory whatever the pack's default level: the command fails (exit 1) on any witness.
    rule = sarif.Rule(
        id=RULE.name,
        short=RULE.description,
        full=RULE.description,
        help=RULE.remediation,
        level="mandatory",
        severity=RULE.severity,
    )
    target = Path(args.table_policy or args.stream_policy or args.key_policy or ".")

    def result(w: Any) -> sarif.Finding:
        return sarif.Finding(
            rule_id=RULE.name,
            level="mandatory",
            message=w.describe(),
            path=target,
            logical_name=args.table,
            logical_kind="aws:dynamodb/table",
            properties={"code": RULE.witness_code, **w.to_json()},
            fingerprints=witness_fingerprint(RULE, w.to_json(), args.table),
        )

    write_sarif(args, "readers", rule, target, verdict, result)


def _print(verdict: ReadersVerdict, as_json: bool) -> None:
    if as_json:
        json.dump(verdict.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    if verdict.status == "unknown":
        print(f"unknown: {verdict.reason}")
    elif verdict.status == "pass":
        print("exactly the declared readers: nobody else can read the table's items")
    else:
        print("readers beyond the declared ones (one row per kind of principal and account):")
        for w in verdict.witnesses:
            print(f"  {w.describe()}")
        if not verdict.complete:
            print(f"(stopped after {len(verdict.witnesses)} rows; more kinds may exist)")
    for p in verdict.missing:
        print(f"note: the declared reader {p} cannot read the table by any path")
