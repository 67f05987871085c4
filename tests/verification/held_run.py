"""Test-only driver: run the verifier, then hold still right after the PutItem probe.

The pause lives here, not in the verifier, so production code carries no test switch: the
verifier's public `on_probe` hook is the injection point. While it holds, the run owns a
temporary access key and has written its probe item, which is the state a kill must not leak.
A line on stdin (or its end) lets the run go on; it prints the report's notes when done.
Usage: python -m tests.verification.held_run OUTPUTS_FILE ENDPOINT_URL
"""

from __future__ import annotations

import json
import select
import signal
import sys

import verification
from verification.probes import Observation
from verification.runner import VerificationUnavailable


def hold(principal: str, action: str, observation: Observation) -> None:
    if action == "dynamodb:PutItem":
        print(f"HOLDING {observation.kind}", flush=True)
        select.select([sys.stdin], [], [], 120)


def main() -> int:
    outputs, endpoint = sys.argv[1], sys.argv[2]
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with open(outputs, encoding="utf-8") as f:
        raw = json.load(f)
    try:
        report = verification.run(raw, endpoint_url=endpoint, settle_timeout=0.5, on_probe=hold)
    except KeyboardInterrupt:
        print("INTERRUPTED", flush=True)
        return 2
    except VerificationUnavailable:
        return 2
    for note in report.notes:
        print(f"NOTE {note}", flush=True)
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
