"""`python -m demo` (`make demo`): the whole story on the embedded sandbox, each step checked."""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from demo.flow import Demo, DemoResult, Phase
from demo.keep import hold, instructions, write_outputs
from sandbox import SandboxStartError, running
from verification import VerificationInputError, VerificationUnavailable
from verification.grants import short_principal

EXIT_OK, EXIT_FAILED, EXIT_UNAVAILABLE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_UNAVAILABLE, f"demo: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m demo",
        description=(
            "Deploy the kmsguard stack to an embedded AWS sandbox on 127.0.0.1 with the policy "
            "pack, prove the test user is denied, grant it, prove it can read, then show the "
            "pack blocking weakening changes. Exit 0 only if every step matched."
        ),
    )
    parser.add_argument(
        "--region", default="us-east-1", type=_region, help="sandbox region (default us-east-1)"
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "cli", "simulation"),
        default="auto",
        help="deploy with the real `pulumi` CLI when on PATH (auto), or force one path",
    )
    parser.add_argument("--quiet", action="store_true", help="only the summary")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave the deployment up at the end and print the sandbox endpoint, the outputs "
        "file and the commands to verify and preview it; Ctrl-C stops it",
    )
    return parser


# The sandbox's own rule for --region, checked here so a typo is named before anything starts.
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


def _region(text: str) -> str:
    if not _REGION.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an AWS region name (e.g. us-east-1, eu-west-3)"
        )
    return text


def _matrix(phase: Phase) -> Table:
    table = Table(title=f"phase {phase.name!r}: access matrix (expected vs observed)")
    for col in ("principal", "action", "expected", "observed", "verdict"):
        table.add_column(col, overflow="fold")
    table.add_column("why", overflow="fold", ratio=2)
    for row in phase.report.access_rows if phase.report else []:
        why = row.explanation or row.detail
        cells = (short_principal(row.principal), row.action, row.expected, row.observed)
        table.add_row(*(Text(c) for c in cells), Text(row.verdict), Text(why))
    return table


def render(console: Console, result: DemoResult, engine_label: str) -> None:
    console.rule("summary")
    console.print(f"deploy engine: {engine_label}", markup=False, highlight=False)
    for phase in result.phases:
        console.print(_matrix(phase))
        config_rows = phase.report.config_rows if phase.report else []
        failed = [c for c in config_rows if c.verdict != "pass"]
        console.print(
            f"configuration checks: {len(config_rows) - len(failed)}/{len(config_rows)} pass"
            + "".join(f"\n  {c.verdict}: {c.check}: {c.observed}" for c in failed),
            markup=False,
            highlight=False,
        )
        for line in phase.readers or ["not verified"]:
            console.print(
                f"who can read the table's items in phase {phase.name!r}: {line}",
                markup=False,
                highlight=False,
            )
        for label, found in (
            ("preview", phase.preview_violations),
            ("update", phase.update_violations),
        ):
            shown = ", ".join(f"{v.enforcement_level}:{v.policy_name}" for v in found) or "none"
            console.print(
                f"policy pack on {label}: violations: {shown}", markup=False, highlight=False
            )
        if phase.applied:
            console.print("applied: " + "; ".join(phase.applied), markup=False, highlight=False)
    console.print(
        f"same key across phases: {'yes' if result.same_key else 'NO'} "
        f"({', '.join(result.key_ids)})",
        markup=False,
        highlight=False,
    )
    guard = Table(title="guardrails: weakening changes tried after phase 'granted'")
    # The change's words wrap; a rule's name, what a reader searches the pack for, gets the room
    # to stay whole where the console allows it.
    guard.add_column("change", overflow="fold", max_width=28)
    guard.add_column("expected rule", overflow="fold")
    guard.add_column("blocked by", overflow="fold")
    for col in ("deployed state unchanged", "verdict"):
        guard.add_column(col, overflow="fold")
    for a in result.attempts:
        guard.add_row(
            a.title,
            a.expected_rule,
            "\n".join(a.blocking_rules) or "NOT BLOCKED",
            "yes" if a.unchanged else "NO",
            "pass" if a.ok else "FAIL",
        )
    console.print(guard)
    for a in result.attempts:
        for witness in a.witness:
            console.print(
                f"why {a.expected_rule} refused to {a.title}: {witness}",
                markup=False,
                highlight=False,
            )
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items())
    for phase in result.phases:
        timings += f"; {phase.name}: " + ", ".join(
            f"{k} {v:.1f}s" for k, v in phase.seconds.items()
        )
    console.print(f"timings: {timings}", markup=False, highlight=False)
    console.print(
        "RESULT: " + ("PASS: every step matched" if result.ok else "FAIL: see the rows above"),
        markup=False,
        highlight=False,
    )


def _cli_failure(err: subprocess.CalledProcessError) -> str:
    said = (err.stderr or err.stdout or "").strip().splitlines()
    return f"`{shlex.join(err.cmd)}` failed (exit {err.returncode}): " + (
        said[-1] if said else "no output"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Piped output (CI logs, `tee`) gets room for the tables instead of rich's 80 columns.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    use_cli = args.engine == "cli" or (args.engine == "auto" and shutil.which("pulumi"))
    if use_cli:
        if shutil.which("pulumi") is None:
            print(
                "demo: --engine cli needs the pulumi CLI on PATH "
                "(https://www.pulumi.com/docs/install/); without it, use --engine simulation "
                "(what --engine auto picks then)",
                file=sys.stderr,
            )
            return EXIT_UNAVAILABLE
        from demo.cli import run_with_cli

        try:
            return run_with_cli(console, region=args.region, keep=args.keep)
        except subprocess.CalledProcessError as err:
            print(f"demo: could not run: {_cli_failure(err)}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        except (SandboxStartError, VerificationUnavailable, VerificationInputError) as err:
            print(f"demo: could not run: {err}", file=sys.stderr)
            return EXIT_UNAVAILABLE

    def say(line: str) -> None:
        if not args.quiet:
            console.print(f"[{time.strftime('%H:%M:%S')}] {line}", markup=False, highlight=False)

    say(
        "the pulumi CLI is not on PATH: deploying with the engine simulation (the Pulumi SDK "
        "running __main__.py with a monitor that applies resources to the sandbox)"
        if args.engine == "auto"
        else "engine simulation requested"
    )
    try:
        with running(args.region) as sb:
            say(f"sandbox up at {sb.endpoint_url} (region {sb.region}, account {sb.account_id})")
            result = Demo(sb, say).run(keep=args.keep)
            label = "simulation of the Pulumi engine (SDK + sandbox), not `pulumi up`"
            render(console, result, label)
            deployed = [p.outputs for p in result.phases if p.outputs]
            if args.keep and deployed:
                with tempfile.TemporaryDirectory(prefix="kmsguard-demo-") as tmp:
                    outputs = write_outputs(Path(tmp), deployed[-1])
                    engine_less = (
                        f"{shlex.quote(sys.executable)} -m kmsguard.preview --stack sandbox "
                        "--phase granted  # the same program, stack config and pack, engine-less: "
                        "it does not read the sandbox"
                    )
                    hold(console, instructions(sb, outputs, [engine_less]))
    except (SandboxStartError, VerificationUnavailable, VerificationInputError) as err:
        print(f"demo: could not run: {err}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return EXIT_OK if result.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
