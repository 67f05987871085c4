"""`kmsguard-audit` / `python -m kmsguard.audit`: judge an account's tables and keys as they are."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from kmsguard import extras
from kmsguard.aws_errors import error_code, error_message

PROG = "kmsguard-audit"


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def _session(args: Any) -> tuple[Any, list[str], Any]:
    """(session, regions, client factory); ValueError for a missing profile or region."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    from kmsguard.audit.discover import POOL

    try:
        session = boto3.session.Session(profile_name=args.profile)
    except BotoCoreError as exc:
        raise ValueError(f"--profile {args.profile}: {exc}") from None
    regions = list(dict.fromkeys(args.region)) or (
        [session.region_name] if session.region_name else []
    )
    if not regions:
        raise ValueError("no region: give --region (repeatable) or set AWS_REGION")
    # Standard retry mode: throttling backs off and retries; one pool bounds the concurrency.
    config = Config(
        retries={"mode": "standard", "max_attempts": 8},
        max_pool_connections=POOL,
        connect_timeout=10,
        read_timeout=60,
    )
    # Asking who we are fails fast when the endpoint cannot be reached.
    quick = config.merge(Config(retries={"mode": "standard", "max_attempts": 2}))
    cache: dict[tuple[str, str], Any] = {}

    def clients(service: str, region: str) -> Any:
        if (service, region) not in cache:
            cache[(service, region)] = session.client(  # type: ignore[call-overload]
                service,
                region_name=region,
                endpoint_url=args.endpoint_url,
                config=quick if service == "sts" else config,
            )
        return cache[(service, region)]

    return session, regions, clients


def _identity(clients: Any, region: str) -> tuple[str, str]:
    """(account, partition) of the caller; ValueError without usable credentials."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        me = clients("sts", region).get_caller_identity()  # retried in standard mode
    except NoCredentialsError:
        raise ValueError(
            "no credentials: configure the standard AWS credential chain or give --profile"
        ) from None
    except ClientError as exc:
        raise ValueError(
            f"the credentials were refused by STS ({error_code(exc)}: {error_message(exc)[:200]})"
        ) from None
    except BotoCoreError as exc:
        raise ValueError(f"cannot reach AWS: {exc}") from None
    from kmsguard.access.arn import parse_arn

    arn = parse_arn(me.get("Arn"))
    return str(me["Account"]), arn.partition if arn is not None else "aws"


def audit(args: Any) -> Any:
    """Configure the pack, discover, model, judge, prove; returns the report's Result.

    ValueError on bad input, raised before anything is read from AWS where it can be.
    """
    from kmsguard.audit.discover import discover
    from kmsguard.audit.findings import UNREADABLE, own
    from kmsguard.audit.inventory import Selection
    from kmsguard.audit.judge import READERS_RULE, run_pack, start_pack
    from kmsguard.audit.model import build
    from kmsguard.audit.progress import Progress
    from kmsguard.audit.proofs import prove_tables
    from kmsguard.audit.report import Result
    from kmsguard.org_policies import OrgPolicies, load_org_policies
    from kmsguard.preview import policy_config
    from kmsguard.preview.pack_dir import PACK_DIR

    pack_dir = Path(args.policy_pack) if args.policy_pack else PACK_DIR
    if not (pack_dir / "PulumiPolicy.yaml").is_file():
        raise ValueError(
            f"--policy-pack {pack_dir}: no PulumiPolicy.yaml there; give the pack's directory "
            "(e.g. an unpacked `make pack` archive)"
        )
    config = policy_config.read(args.policy_config) if args.policy_config else None
    org = load_org_policies(args.org_policies) if args.org_policies else None
    _, regions, clients = _session(args)
    progress = Progress(quiet=args.quiet)
    seconds: dict[str, float] = {}
    with ExitStack() as stack:
        t = time.perf_counter()
        account, partition = _identity(clients, regions[0])
        client, info = start_pack(stack, account, config, args.policy_config or "", org, pack_dir)
        seconds["start"] = time.perf_counter() - t
        t = time.perf_counter()
        selection = Selection(tuple(args.include), tuple(args.exclude))
        inv = discover(account, partition, regions, clients, selection, progress)
        seconds["discover"] = time.perf_counter() - t
        t = time.perf_counter()
        stacks = build(inv)
        seconds["model"] = time.perf_counter() - t
        t = time.perf_counter()
        findings, skipped = run_pack(client, info, stacks, progress)
        seconds["pack"] = time.perf_counter() - t
    t = time.perf_counter()
    settings = policy_config.normalize(config or {}, [READERS_RULE]).get(READERS_RULE, {})
    proved, more = prove_tables(inv, org or OrgPolicies(), args.prover_timeout, progress, settings)
    seconds["prove"] = time.perf_counter() - t
    unreadable = [
        own(
            u.resource,
            UNREADABLE,
            "read-refused",
            UNREADABLE,
            "",
            f"{u.action} refused ({u.code}): {u.message}",
            witness={"action": u.action, "error": u.code},
        )
        for u in inv.unreadable
    ]
    counts = {"tables": len(inv.tables), "keys": len(inv.keys)}
    if inv.iam is not None:
        counts["users"] = len(inv.iam["UserDetailList"])
        counts["roles"] = len(inv.iam["RoleDetailList"])
    findings = [*unreadable, *findings, *proved]
    skipped = [*skipped, *more]
    return Result(account, regions, findings, skipped, info, counts, seconds, dict(inv.calls))


def main(argv: Sequence[str] | None = None) -> int:
    problem = extras.problem(PROG, "audit")
    if problem is not None:
        return _fail(problem)
    import grpc

    from kmsguard.audit import report
    from kmsguard.audit.cli import EXIT_FINDINGS, EXIT_OK, EXIT_UNREADABLE, check, parser
    from kmsguard.preview.analyzer import AnalyzerError

    args = parser().parse_args(argv)
    try:
        check(args)
        result = report.sanitized(audit(args))
    except (ValueError, AnalyzerError) as exc:
        return _fail(str(exc))
    except grpc.RpcError as exc:
        return _fail(f"the policy pack failed: {exc.details()}")
    except KeyboardInterrupt:
        # The pack was stopped on the way out; no report was written.
        print(f"{PROG}: interrupted; nothing written", file=sys.stderr)
        return 130
    try:
        from kmsguard import __version__

        texts: list[tuple[str, str]] = []
        if args.json:
            texts.append((args.json, report.to_json(result) + "\n"))
        if args.sarif:
            texts.append((args.sarif, report.to_sarif(result, __version__, Path.cwd())))
        if args.junit_xml:
            texts.append((args.junit_xml, report.to_junit(result)))
        report.write_all(texts)
    except OSError as exc:
        return _fail(f"{exc.filename}: cannot write it ({exc.strerror})")
    try:
        print(report.render(result), flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if result.mandatory:
        return EXIT_FINDINGS
    return EXIT_UNREADABLE if result.unreadable else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
