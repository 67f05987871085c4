"""Request latency through the sandbox's authorization layer against plain moto (ratio)."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from botocore.exceptions import ClientError  # noqa: E402

from kmsguard.contract import DYNAMODB_FULL_ACCESS_POLICY_ARN  # noqa: E402
from kmsguard.keypolicy import KeyPolicyRoles, key_policy_json  # noqa: E402
from sandbox import SandboxInfo, running  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "300"))
PLAIN_MOTO = """
import os, sys
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print("http://127.0.0.1:%d" % server.get_host_and_port()[1], flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def plain_moto() -> Iterator[SandboxInfo]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PLAIN_MOTO],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        endpoint = proc.stdout.readline().strip()
        yield SandboxInfo(endpoint, "us-east-1", "123456789012", "AKIAPLAINMOTO0000000", "x")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def prepare(sb: SandboxInfo) -> dict[str, Callable[[], Any]]:
    """A user with DynamoDB full access who is a key user of the table's CMK."""
    iam = sb.client("iam")
    arn = iam.create_user(UserName="bench")["User"]["Arn"]
    iam.attach_user_policy(UserName="bench", PolicyArn=DYNAMODB_FULL_ACCESS_POLICY_ARN)
    creds = iam.create_access_key(UserName="bench")["AccessKey"]
    roles = KeyPolicyRoles(
        account_id=sb.account_id, region=sb.region, users=(arn,), restrict_to_dynamodb=False
    )
    key = sb.client("kms").create_key(Policy=key_policy_json(roles))["KeyMetadata"]
    sb.client("dynamodb").create_table(
        TableName="bench",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["Arn"]},
    )
    ddb = sb.client("dynamodb", creds["AccessKeyId"], creds["SecretAccessKey"])
    kms = sb.client("kms", creds["AccessKeyId"], creds["SecretAccessKey"])
    counter = iter(range(10**9))
    return {
        "PutItem": lambda: ddb.put_item(TableName="bench", Item={"pk": {"S": str(next(counter))}}),
        "GetItem": lambda: ddb.get_item(TableName="bench", Key={"pk": {"S": "0"}}),
        "DescribeKey": lambda: kms.describe_key(KeyId=key["KeyId"]),
    }


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def p99(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.99) - 1)]


# Worst-case policies within AWS's own bounds: an identity policy of pathological wildcards
# (each a full scan for the matcher), asked about the longest resource names DynamoDB accepts.
ATTACK_PATTERNS = ["*a*a*a*a*c*b", "*a?a*a?a*a?c*b", "*a*a*a*a*a*a*a*a*a*b", "a*a*a*a*a*a*a*a*"]
ATTACK_STATEMENTS = 40
ATTACKERS = 2


def attacker(sb: SandboxInfo, n: int) -> Callable[[], Any]:
    statements = [
        {
            "Effect": "Allow",
            "Action": ["dynamodb:DescribeTable", "dynamodb:Get*", "dynamodb:Quer?"],
            "Resource": f"arn:aws:dynamodb:*:*:table/{ATTACK_PATTERNS[i % 4]}{i}",
        }
        for i in range(ATTACK_STATEMENTS)
    ]
    iam = sb.client("iam")
    iam.create_user(UserName=f"attacker{n}")
    iam.put_user_policy(
        UserName=f"attacker{n}",
        PolicyName="worst-case",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    creds = iam.create_access_key(UserName=f"attacker{n}")["AccessKey"]
    ddb = sb.client("dynamodb", creds["AccessKeyId"], creds["SecretAccessKey"])
    # A 1024-character table ARN, the longest TableName DynamoDB accepts.
    prefix = f"arn:aws:dynamodb:{sb.region}:{sb.account_id}:table/"
    name = prefix + "a" * (1024 - len(prefix) - 1) + "b"

    def call() -> None:
        # Denied is the expected answer; the work to decide it is the point.
        with contextlib.suppress(ClientError):
            ddb.describe_table(TableName=name)

    return call


def admin_list_tables(
    sb: SandboxInfo, rounds: int, attackers: list[Callable[[], Any]]
) -> tuple[float, float, int]:
    """Admin ListTables latency while `attackers` run (p50, p99, attacker requests served)."""
    ddb = sb.client("dynamodb")
    stop = threading.Event()
    attacks = [0] * len(attackers)

    def hammer(n: int, call: Callable[[], Any]) -> None:
        while not stop.is_set():
            call()
            attacks[n] += 1

    threads = []
    for n, call in enumerate(attackers):
        thread = threading.Thread(target=hammer, args=(n, call), daemon=True)
        thread.start()
        threads.append(thread)
    time.sleep(0.5 if attackers else 0)
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        ddb.list_tables()
        samples.append((time.perf_counter() - start) * 1000)
    stop.set()
    for thread in threads:
        thread.join()
    return statistics.median(samples), p99(samples), sum(attacks)


def contention() -> None:
    rounds = max(200, ROUNDS)
    with running() as sb:
        attackers = [attacker(sb, n) for n in range(ATTACKERS)]
        for _ in range(20):
            sb.client("dynamodb").list_tables()
        quiet = admin_list_tables(sb, rounds, [])
        loud = admin_list_tables(sb, rounds, attackers)
    print(
        f"admin ListTables while {ATTACKERS} clients send worst-case policies "
        f"({ATTACK_STATEMENTS} pathological wildcard statements, 1024-character table ARNs), "
        f"{rounds} requests (ms)"
    )
    print(f"{'':<12} {'p50':>9} {'p99':>9} attacker requests served")
    print(f"{'alone':<12} {quiet[0]:9.2f} {quiet[1]:9.2f}")
    print(f"{'under attack':<12} {loud[0]:9.2f} {loud[1]:9.2f} {loud[2]}")
    print(f"p99 ratio under attack / alone: {loud[1] / quiet[1]:.2f}x")


def main() -> None:
    # Both servers run at once and requests alternate between them, so background load on the
    # machine affects both sides alike.
    with plain_moto() as moto_info, running() as sandbox_info:
        sides = {"moto": prepare(moto_info), "sandbox": prepare(sandbox_info)}
        samples: dict[str, dict[str, list[float]]] = {side: {} for side in sides}
        for name in sides["moto"]:
            for side, calls in sides.items():
                for _ in range(20):
                    calls[name]()
                samples[side][name] = []
            for _ in range(ROUNDS):
                for side, calls in sides.items():
                    start = time.perf_counter()
                    calls[name]()
                    samples[side][name].append((time.perf_counter() - start) * 1000)
    print(f"sandbox vs plain moto server, {ROUNDS} interleaved requests per operation (ms)")
    print(f"{'operation':<12} {'moto p50':>9} {'moto p95':>9} {'sbx p50':>9} {'sbx p95':>9} ratio")
    for name in samples["moto"]:
        m50, m95 = percentiles(samples["moto"][name])
        s50, s95 = percentiles(samples["sandbox"][name])
        print(f"{name:<12} {m50:9.2f} {m95:9.2f} {s50:9.2f} {s95:9.2f} {s50 / m50:5.2f}x")
    print()
    contention()


if __name__ == "__main__":
    main()
