"""Analyze + AnalyzeStack over gRPC on synthetic stacks: kmsguard vs a trivial pack, and scaling."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from statistics import median
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN, AwsType  # noqa: E402
from kmsguard.keypolicy import KeyPolicyRoles, build_key_policy  # noqa: E402
from kmsguard.preview.analyzer import PolicyPackClient  # noqa: E402
from kmsguard.preview.collect import RegisteredResource  # noqa: E402
from kmsguard.preview.pack_dir import PACK_DIR  # noqa: E402
from policies.servicer import servicer_class  # noqa: E402

N = 3000
SCALING = (300, 3000, 10000)
REPEAT = 3
SAMPLES = 5  # Analyze rounds per pack, alternating, so both see the same load
TARGET = 1.5  # the pack's Analyze CPU per resource over the trivial pack's, at most
ACCOUNT = "123456789012"
PER_COPY = 6


def synthetic_stack(n: int = N) -> list[RegisteredResource]:
    """n // 6 independent copies: key, key policy, table, user, policy attachment, alias.

    Every name and ARN is unique to its copy (administrator included), so no copy's rules
    have anything to say about another copy's resources.
    """
    out: list[RegisteredResource] = []
    for g in range(n // PER_COPY):

        def res(t: str, name: str, props: dict, deps: dict | None = None) -> RegisteredResource:
            urn = f"urn:pulumi:bench::kmsguard::{t}::{name}"
            r = RegisteredResource(t, urn, name, True, "", "", [], deps or {}, props, props)
            out.append(r)
            return r

        user_arn = f"arn:aws:iam::{ACCOUNT}:user/user{g}"
        admin_arn = f"arn:aws:iam::{ACCOUNT}:role/admin{g}"
        policy = build_key_policy(KeyPolicyRoles(ACCOUNT, "us-east-1", [admin_arn], [user_arn]))
        key_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k{g}"
        key = res(
            AwsType.KMS_KEY,
            f"key{g}",
            {
                "arn": key_arn,
                "keyId": f"k{g}",
                "enableKeyRotation": True,
                "deletionWindowInDays": 30,
            },
        )
        res(
            AwsType.KMS_KEY_POLICY,
            f"keypolicy{g}",
            {"keyId": f"k{g}", "policy": json.dumps(policy)},
            {"keyId": [key.urn]},
        )
        res(
            AwsType.DYNAMODB_TABLE,
            f"table{g}",
            {
                "serverSideEncryption": {"enabled": True, "kmsKeyArn": key_arn},
                "pointInTimeRecovery": {"enabled": True},
            },
            {"serverSideEncryption": [key.urn]},
        )
        user = res(AwsType.IAM_USER, f"user{g}", {"name": f"user{g}", "arn": user_arn})
        res(
            AwsType.IAM_USER_POLICY_ATTACHMENT,
            f"att{g}",
            {"user": f"user{g}", "policyArn": DYNAMODB_FULL_ACCESS_POLICY_ARN},
            {"user": [user.urn]},
        )
        res(
            AwsType.KMS_ALIAS,
            f"alias{g}",
            {"name": f"alias/t{g}", "targetKeyId": f"k{g}"},
            {"targetKeyId": [key.urn]},
        )
    return out


class Run(NamedTuple):
    """One pack's measurement: seconds (wall or CPU) for the whole Analyze loop unless noted."""

    start: float  # wall seconds until the pack serves
    start_cpu: float  # the pack's CPU seconds until then (imports, catalogs)
    analyze: float  # wall
    cpu: float  # this process + the pack's
    pack_cpu: float  # the pack's alone
    stack: float  # AnalyzeStack wall
    found: int  # diagnostics


def measure(pack: Path, resources: list[RegisteredResource]) -> Run:
    """Start the pack, Analyze each resource, then AnalyzeStack."""
    start = time.perf_counter()
    with PolicyPackClient(pack) as client:
        started = time.perf_counter() - start
        by_urn = {r.urn: r for r in resources}
        pack_cpu = _cpu_seconds(client.pid) or 0.0
        own_cpu = time.process_time()
        start = time.perf_counter()
        found = sum(len(client.analyze(r, by_urn)) for r in resources)
        analyze = time.perf_counter() - start
        own = time.process_time() - own_cpu
        served = (_cpu_seconds(client.pid) or 0.0) - pack_cpu
        start = time.perf_counter()
        found += len(client.analyze_stack(resources))
        stack = time.perf_counter() - start
    return Run(started, pack_cpu, analyze, own + served, served, stack, found)


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stack_seconds(
    client: PolicyPackClient, resources: list[RegisteredResource]
) -> tuple[float, float | None]:
    """Best of REPEAT AnalyzeStack calls, wall and pack CPU: the machine may be shared."""
    wall, cpu = float("inf"), float("inf")
    for _ in range(REPEAT):
        before = _cpu_seconds(client.pid)
        start = time.perf_counter()
        client.analyze_stack(resources)
        wall = min(wall, time.perf_counter() - start)
        after = _cpu_seconds(client.pid)
        if before is not None and after is not None:
            cpu = min(cpu, after - before)
    return wall, (cpu if cpu != float("inf") else None)


def scaling() -> None:
    print(f"AnalyzeStack scaling, independent copies of {PER_COPY} resources (best of {REPEAT}):")
    per: dict[int, float] = {}
    per_cpu: dict[int, float] = {}
    with (
        PolicyPackClient(PACK_DIR) as client,
        PolicyPackClient(ROOT / "benchmarks" / "trivial_pack") as trivial,
    ):
        for n in SCALING:
            resources = synthetic_stack(n)
            wall, cpu = stack_seconds(client, resources)
            base, _ = stack_seconds(trivial, resources)
            per[n] = wall
            if cpu is not None:
                per_cpu[n] = cpu / len(resources)
            pack_cpu = f"pack CPU {cpu:6.2f}s" if cpu is not None else "pack CPU n/a"
            print(
                f"  {len(resources):6d} resources: {wall:7.2f}s  "
                f"{wall / len(resources) * 1e3:6.3f} ms/resource  {pack_cpu}  "
                f"(trivial pack {base:6.2f}s, {base / len(resources) * 1e3:5.3f} ms/resource)"
            )
    small, large = SCALING[0], SCALING[1]
    print(f"  AnalyzeStack time {large}/{small}: {per[large] / per[small]:.1f}x")
    if len(per_cpu) == len(SCALING):
        # Linear: the same pack CPU per resource at every size (wall time follows the load).
        steps = ", ".join(f"{n}: {per_cpu[n] * 1e3:.3f}" for n in SCALING)
        print(f"  pack CPU per resource (ms) by stack size: {steps}")


def _ms(seconds: float, n: int) -> str:
    return f"{seconds / n * 1e3:5.2f}"


def main() -> None:
    resources = synthetic_stack()
    n = len(resources)
    runs: dict[str, list[Run]] = {"kmsguard pack": [], "trivial pack": []}
    for _ in range(SAMPLES):
        runs["kmsguard pack"].append(measure(PACK_DIR, resources))
        runs["trivial pack"].append(measure(ROOT / "benchmarks" / "trivial_pack", resources))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"resources: {n}; medians of {SAMPLES} alternating rounds; load average {load:.1f}")
    # The SDK this Python has, which the pack's own virtualenv may not share.
    print(f"pack servicer with this Python's pulumi-policy: {servicer_class()[1]}")
    med: dict[str, Run] = {}
    for label, rs in runs.items():
        m = med[label] = Run(*(median(getattr(r, f) for r in rs) for f in Run._fields))
        print(
            f"{label:14s} start {m.start:5.2f}s (pack CPU {m.start_cpu:5.2f}s)  "
            f"Analyze x{n}: {m.analyze:6.2f}s = {_ms(m.analyze, n)} ms/resource, CPU "
            f"{_ms(m.cpu, n)} ms/resource (pack {_ms(m.pack_cpu, n)})  "
            f"AnalyzeStack: {m.stack:6.2f}s  diagnostics: {m.found}"
        )
    full, trivial = med["kmsguard pack"], med["trivial pack"]
    pairs = list(zip(runs["kmsguard pack"], runs["trivial pack"], strict=True))

    def paired(field: str) -> float:
        """Median over rounds of the ratio within a round (both packs measured back to back)."""
        return median(getattr(f, field) / getattr(t, field) for f, t in pairs)

    ratio = paired("cpu")
    rounds = ", ".join(f"{f.cpu / t.cpu:.2f}" for f, t in pairs)
    print(
        f"ratio (kmsguard / trivial), Analyze per resource, median of rounds: CPU of both "
        f"processes {ratio:.2f}x (rounds: {rounds}); wall {paired('analyze'):.2f}x; "
        f"pack process alone {paired('pack_cpu'):.2f}x"
    )
    print(
        f"target: Analyze CPU per resource at most {TARGET}x the trivial pack's: "
        f"{'met' if ratio <= TARGET else 'NOT met'} ({ratio:.2f}x)"
    )
    print(
        f"AnalyzeStack: {full.stack:.2f}s vs {trivial.stack:.2f}s "
        f"({full.stack / max(trivial.stack, 1e-9):.1f}x)"
    )
    scaling()


if __name__ == "__main__":
    main()
