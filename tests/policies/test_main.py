"""The pack's start: what it loads, how it leaves the collector, which servicer it serves with."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Runs the pack's main as the CLI does, with PolicyPack standing in for the server: it reports
# the state the pack would serve in instead of serving.
PROBE = """
import gc, json, sys
import pulumi_policy
import pulumi_policy.policy as sdk
sys.path.insert(0, sys.argv[1])
import policies.__main__ as pack

seen = {}
real_preload = pack.preload

def preload():
    seen["collecting during preload"] = gc.isenabled()
    real_preload()

def serve(**kwargs):
    print(json.dumps({
        **seen,
        "collecting": gc.isenabled(),
        "frozen": gc.get_freeze_count(),
        "threshold": gc.get_threshold(),
        "prover loaded": "z3" in sys.modules,
        "servicer": sdk._PolicyAnalyzerServicer.__name__,
    }))

if sys.argv[2] == "another SDK":
    real_analyze = sdk._PolicyAnalyzerServicer.Analyze
    sdk._PolicyAnalyzerServicer.Analyze = lambda self, request, context: real_analyze(
        self, request, context
    )
pack.preload = preload
pulumi_policy.PolicyPack = serve
pack.main()
"""


def _start(sdk: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT), sdk],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    return dict(json.loads(out.stdout))


def test_the_pack_starts_without_collecting_then_freezes_what_it_loaded():
    state = _start("this SDK")
    assert state["collecting during preload"] is False
    assert state["collecting"] is True
    # The prover, the IAM catalog and the rules: tens of thousands of objects.
    assert state["frozen"] > 20_000
    assert state["threshold"] == [50_000, 10, 10]
    assert state["prover loaded"] is True
    assert state["servicer"] == "SharedConversionServicer"


def test_under_another_sdk_the_pack_serves_with_the_sdks_own_servicer():
    state = _start("another SDK")
    assert state["servicer"] == "_PolicyAnalyzerServicer"
    assert state["prover loaded"] is True


def test_a_requirement_is_found_by_its_distribution_not_only_its_module_name(
    tmp_path: Path,
) -> None:
    # protobuf installs `google.protobuf`: a module-name check alone called it missing.
    from policies.__main__ import missing_requirements

    (tmp_path / "requirements.txt").write_text(
        "protobuf>=3.20.3,<7\npulumi-policy>=1.13,<2  # comment\nkmsguard-absent-dist>=1\n",
        encoding="utf-8",
    )
    assert missing_requirements(tmp_path) == ["kmsguard-absent-dist"]
