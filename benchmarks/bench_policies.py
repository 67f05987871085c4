"""Analyze + AnalyzeStack over gRPC on synthetic stacks: kmsguard vs a trivial pack, and scaling."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN, AwsType  # noqa: E402
from kmsguard.keypolicy import KeyPolicyRoles, build_key_policy  # noqa: E402
from kmsguard.preview.analyzer import PolicyPackClient  # noqa: E402
from kmsguard.preview.collect import RegisteredResource  # noqa: E402
from kmsguard.preview.pack_dir import PACK_DIR  # noqa: E402

N = 3000
SCALING = (300, 3000, 10000)
REPEAT = 3
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


def measure(pack: Path, resources: list[RegisteredResource]) -> tuple[float, float, float, int]:
    """Analyze of each resource, then AnalyzeStack: wall seconds of each, CPU seconds of the
    Analyze loop (this process + the pack's), diagnostics."""
    with PolicyPackClient(pack) as client:
        by_urn = {r.urn: r for r in resources}
        pack_cpu = _cpu_seconds(client.pid) or 0.0
        own_cpu = time.process_time()
        start = time.perf_counter()
        found = sum(len(client.analyze(r, by_urn)) for r in resources)
        analyze = time.perf_counter() - start
        cpu = time.process_time() - own_cpu + (_cpu_seconds(client.pid) or 0.0) - pack_cpu
        start = time.perf_counter()
        found += len(client.analyze_stack(resources))
        stack = time.perf_counter() - start
    return analyze, stack, cpu, found


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
    with (
        PolicyPackClient(PACK_DIR) as client,
        PolicyPackClient(ROOT / "benchmarks" / "trivial_pack") as trivial,
    ):
        for n in SCALING:
            resources = synthetic_stack(n)
            wall, cpu = stack_seconds(client, resources)
            base, _ = stack_seconds(trivial, resources)
            per[n] = wall
            pack_cpu = f"pack CPU {cpu:6.2f}s" if cpu is not None else "pack CPU n/a"
            print(
                f"  {len(resources):6d} resources: {wall:7.2f}s  "
                f"{wall / len(resources) * 1e3:6.3f} ms/resource  {pack_cpu}  "
                f"(trivial pack {base:6.2f}s, {base / len(resources) * 1e3:5.3f} ms/resource)"
            )
    small, large = SCALING[0], SCALING[1]
    print(f"  AnalyzeStack time {large}/{small}: {per[large] / per[small]:.1f}x")


def main() -> None:
    resources = synthetic_stack()
    full = measure(PACK_DIR, resources)
    trivial = measure(ROOT / "benchmarks" / "trivial_pack", resources)
    print(f"resources: {len(resources)}")
    for label, (a, s, c, f) in (("kmsguard pack", full), ("trivial pack", trivial)):
        print(
            f"{label:14s} Analyze x{len(resources)}: {a:7.2f}s (CPU {c:6.2f}s, "
            f"{c / len(resources) * 1e3:5.2f} ms/resource)  AnalyzeStack: {s:7.2f}s  "
            f"total: {a + s:7.2f}s  diagnostics: {f}"
        )
    print(
        f"ratio (kmsguard / trivial): Analyze {full[0] / trivial[0]:.1f}x "
        f"(CPU {full[2] / trivial[2]:.1f}x)  "
        f"AnalyzeStack {full[1] / max(trivial[1], 1e-9):.1f}x  "
        f"total {(full[0] + full[1]) / (trivial[0] + trivial[1]):.1f}x"
    )
    scaling()


if __name__ == "__main__":
    main()
