"""`--keep`: leave the demo's deployment up and say how to reach it, until Ctrl-C."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

from sandbox import SandboxInfo


def write_outputs(directory: Path, outputs: dict[str, Any]) -> Path:
    """The stack outputs as `pulumi stack output --json` prints them, for `--outputs FILE`."""
    path = directory / "outputs.json"
    path.write_text(json.dumps(outputs, indent=2) + "\n", encoding="utf-8")
    return path


def instructions(sb: SandboxInfo, outputs_file: Path, preview: Sequence[str]) -> list[str]:
    """What a user types in another terminal to verify and preview against the kept deployment."""
    python = shlex.quote(sys.executable)
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in sb.environment().items())
    return [
        "kept: the deployment stays up until you stop this demo with Ctrl-C "
        f"(or `kill {os.getpid()}`); it vanishes with the sandbox",
        f"  sandbox endpoint: {sb.endpoint_url} (region {sb.region}, account {sb.account_id})",
        f"  outputs file:     {outputs_file}",
        "in another terminal (the sandbox's documented admin credentials, valid nowhere else):",
        f"  export {exports}",
        f"  {python} -m verification --outputs {shlex.quote(str(outputs_file))} "
        f"--endpoint-url {sb.endpoint_url}",
        *(f"  {line}" for line in preview),
    ]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def hold(console: Console, lines: Sequence[str]) -> None:
    """Print `lines`, then wait for Ctrl-C or SIGTERM; the caller's cleanup runs after."""
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.file.flush()  # a piped stdout is block-buffered: the reader needs these lines now
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, _interrupt) for s in stops}
    # Whatever ran before (a library, a held-off critical section) may have left them blocked.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopped: sandbox and deployment removed", markup=False, highlight=False)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
