"""kmsguard-audit at scale: 1,000 tables, 1,000 keys (a key policy and 2 grants each), 2,000
roles in the sandbox; time, peak memory, per-phase cost, and 1,000 against 100 resources."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kmsguard.keypolicy import KeyPolicyRoles, key_policy_json  # noqa: E402
from sandbox import SandboxInfo, running  # noqa: E402

SCALES = (100, int(os.environ.get("BENCH_AUDIT_SCALE", "1000")))
TARGETS = {"seconds": 90.0, "rss_mib": 600.0, "ratio": 12.0}
SEEDERS = 8
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
# Measured in a child process, so that its peak memory is the audit's alone (the pack, a
# grandchild, is reported apart).
CHILD = """
import json, resource, sys, time
from kmsguard.audit.__main__ import audit
from kmsguard.audit.cli import parser
args = parser().parse_args(sys.argv[1:])
t = time.perf_counter()
result = audit(args)
total = time.perf_counter() - t
print(json.dumps({
    "seconds": total,
    "phases": result.seconds,
    "counts": result.counts,
    "findings": len(result.findings),
    "calls": sum(result.calls.values()),
    "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "pack_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}))
"""


def _role_policy(i: int, account: str, region: str) -> str:
    table = f"arn:aws:dynamodb:{region}:{account}:table/t{i % 1000:04d}"
    statement = {
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:Query"],
        "Resource": table,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def seed(sb: SandboxInfo, start: int, stop: int) -> None:
    """Tables, keys and grants numbered [start, stop); roles [2*start, 2*stop)."""
    kms, ddb, iam = sb.client("kms"), sb.client("dynamodb"), sb.client("iam")

    def role(i: int) -> str:
        name = f"r{i:05d}"
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=name,
            PolicyName="read",
            PolicyDocument=_role_policy(i, sb.account_id, sb.region),
        )
        return str(arn)

    def key_and_table(i: int) -> None:
        users = (f"arn:aws:iam::{sb.account_id}:role/r{2 * i:05d}",)
        roles = KeyPolicyRoles(account_id=sb.account_id, region=sb.region, users=users)
        key = kms.create_key(Policy=key_policy_json(roles))["KeyMetadata"]
        if i % 2:
            kms.enable_key_rotation(KeyId=key["KeyId"])
        kms.create_alias(AliasName=f"alias/k{i:04d}", TargetKeyId=key["KeyId"])
        for g in (2 * i, 2 * i + 1):
            kms.create_grant(
                KeyId=key["KeyId"],
                GranteePrincipal=f"arn:aws:iam::{sb.account_id}:role/r{g:05d}",
                Operations=["Decrypt", "Encrypt"],
            )
        ddb.create_table(
            TableName=f"t{i:04d}",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]},
        )

    with ThreadPoolExecutor(SEEDERS) as pool:
        list(pool.map(role, range(2 * start, 2 * stop)))
        list(pool.map(key_and_table, range(start, stop)))


def measure(sb: SandboxInfo) -> dict[str, Any]:
    env = {**os.environ, **sb.environment()}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, "--endpoint-url", sb.endpoint_url, "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"audit failed: {proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    results: dict[int, dict[str, Any]] = {}
    with running() as sb:
        done = 0
        for scale in SCALES:
            t = time.perf_counter()
            seed(sb, done, scale)
            done = scale
            print(
                f"seeded {scale} tables, {scale} keys, {2 * scale} roles "
                f"in {time.perf_counter() - t:.0f} s (not measured)",
                flush=True,
            )
            results[scale] = r = measure(sb)
            phases = ", ".join(f"{k} {v:.1f} s" for k, v in r["phases"].items())
            print(
                f"{scale:>5} tables/keys, {2 * scale} roles: {r['seconds']:.1f} s ({phases}); "
                f"audit peak RSS {r['rss_mib']:.0f} MiB, pack peak RSS {r['pack_rss_mib']:.0f} "
                f"MiB; {r['calls']} AWS calls; {r['findings']} findings; judged {r['counts']}",
                flush=True,
            )
    small, large = results[SCALES[0]], results[SCALES[-1]]
    ratio = large["seconds"] / small["seconds"]
    print(
        f"{SCALES[-1]}: {large['seconds']:.1f} s (target < {TARGETS['seconds']:.0f} s), "
        f"peak RSS {large['rss_mib']:.0f} MiB (target < {TARGETS['rss_mib']:.0f} MiB), "
        f"{SCALES[-1]}/{SCALES[0]} time ratio {ratio:.1f}x (target <= {TARGETS['ratio']:.0f}x)"
    )


if __name__ == "__main__":
    main()
