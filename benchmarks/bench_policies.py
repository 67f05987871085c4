"""Analyze + AnalyzeStack over gRPC on 3,000 synthetic resources: kmsguard vs a trivial pack."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN, AwsType  # noqa: E402
from kmsguard.keypolicy import KeyPolicyRoles, build_key_policy  # noqa: E402
from preview.analyzer import PACK_DIR, PolicyPackClient  # noqa: E402
from preview.collect import RegisteredResource  # noqa: E402

N = 3000
ACCOUNT = "123456789012"


def synthetic_stack(n: int = N) -> list[RegisteredResource]:
    out: list[RegisteredResource] = []
    groups = n // 5
    for g in range(groups):

        def res(t: str, name: str, props: dict, deps: dict | None = None) -> RegisteredResource:
            urn = f"urn:pulumi:bench::kmsguard::{t}::{name}"
            r = RegisteredResource(t, urn, name, True, "", "", [], deps or {}, props, props)
            out.append(r)
            return r

        user_arn = f"arn:aws:iam::{ACCOUNT}:user/user{g}"
        policy = build_key_policy(
            KeyPolicyRoles(ACCOUNT, "us-east-1", [f"arn:aws:iam::{ACCOUNT}:role/admin"], [user_arn])
        )
        key_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k{g}"
        key = res(
            AwsType.KMS_KEY,
            f"key{g}",
            {
                "arn": key_arn,
                "enableKeyRotation": True,
                "deletionWindowInDays": 30,
                "policy": json.dumps(policy),
            },
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


def measure(pack: Path, resources: list[RegisteredResource]) -> tuple[float, float, int]:
    with PolicyPackClient(pack) as client:
        by_urn = {r.urn: r for r in resources}
        start = time.perf_counter()
        found = sum(len(client.analyze(r, by_urn)) for r in resources)
        analyze = time.perf_counter() - start
        start = time.perf_counter()
        found += len(client.analyze_stack(resources))
        stack = time.perf_counter() - start
    return analyze, stack, found


def main() -> None:
    resources = synthetic_stack()
    full = measure(PACK_DIR, resources)
    trivial = measure(ROOT / "benchmarks" / "trivial_pack", resources)
    print(f"resources: {len(resources)}")
    for label, (a, s, f) in (("kmsguard pack", full), ("trivial pack", trivial)):
        print(
            f"{label:14s} Analyze x{len(resources)}: {a:7.2f}s  AnalyzeStack: {s:7.2f}s  "
            f"total: {a + s:7.2f}s  diagnostics: {f}"
        )
    print(
        f"ratio (kmsguard / trivial): Analyze {full[0] / trivial[0]:.1f}x  "
        f"AnalyzeStack {full[1] / max(trivial[1], 1e-9):.1f}x  "
        f"total {(full[0] + full[1]) / (trivial[0] + trivial[1]):.1f}x"
    )


if __name__ == "__main__":
    main()
