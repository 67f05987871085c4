"""Prover speed: the program's key policy vs a one-statement change, 40 statements, `readers`,
peak memory."""

from __future__ import annotations

import copy
import os
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

from kmsguard.access.prove import Key, no_new_access, no_public_access, readers
from kmsguard.contract import DYNAMODB_DATA_ACTIONS
from kmsguard.keypolicy import KeyPolicyRoles, build_key_policy

ACCT = "111122223333"
KEY = Key.in_account(ACCT)
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCT}:table/kmsguard-table"
USER = f"arn:aws:iam::{ACCT}:user/kms-test-user"
TARGETS = {
    "program p50": 0.100,
    "40 statements": 2.0,
    "readers program p50": 0.150,
    "readers 40+40": 2.0,
}


def program_policy() -> dict[str, Any]:
    return build_key_policy(
        KeyPolicyRoles(
            account_id=ACCT,
            region="us-east-1",
            administrators=[f"arn:aws:iam::{ACCT}:role/key-admin"],
            users=[f"arn:aws:iam::{ACCT}:user/kms-test-user"],
        )
    )


def with_statement(doc: dict[str, Any], st: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["Statement"].append(st)
    return out


def forty(doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for i in range(40 - len(out["Statement"])):
        out["Statement"].append(
            {
                "Sid": f"App{i}",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Decrypt", "kms:Encrypt"] if i % 2 else "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:role/team{i}-*"},
                    "StringEquals": {"kms:ViaService": f"svc{i % 5}.us-east-1.amazonaws.com"},
                },
            }
        )
    return out


def user_identity() -> dict[str, list[dict[str, Any]]]:
    """The program's test user: its table actions and the key's use, as the stack gives them."""
    st = {"Effect": "Allow", "Action": list(DYNAMODB_DATA_ACTIONS), "Resource": TABLE}
    return {USER: [{"Version": "2012-10-17", "Statement": [st]}]}


def forty_table() -> dict[str, Any]:
    """A table policy of 40 statements: role patterns of the account and partners' roots."""
    sts: list[dict[str, Any]] = []
    for i in range(40):
        st: dict[str, Any] = {
            "Sid": f"Read{i}",
            "Effect": "Deny" if i % 10 == 9 else "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["dynamodb:GetItem", "dynamodb:Query"] if i % 2 else "dynamodb:Scan",
            "Resource": [TABLE, f"{TABLE}/index/*"],
            "Condition": {
                "StringLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:role/team{i}-*"}
            },
        }
        sts.append(st)
    return {"Version": "2012-10-17", "Statement": sts}


def bench_readers() -> tuple[float, float]:
    """`readers` on the program's policies, and on 40 key + 40 table statements."""
    base = program_policy()
    declared = [USER, f"arn:aws:iam::{ACCT}:root", f"arn:aws:iam::{ACCT}:role/key-admin"]

    def ask(key: dict[str, Any], table: dict[str, Any] | None) -> Any:
        return readers(
            TABLE,
            key_policy=key,
            key_arn=KEY.arn,
            table_policy=table,
            indexes=["byDate"],
            identities=user_identity(),
            closed_accounts=[ACCT],
            declared=declared,
        )

    times, v = timed(lambda: ask(base, None), 15)
    quick = statistics.median(times)
    print(f"{'readers program (no table policy: no solver)':48} {v.status:8} {quick * 1e3:8.1f}")
    # A table policy naming the test user: the solver proves nobody else gets in.
    own = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": USER},
                "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                "Resource": TABLE,
            }
        ],
    }
    times, v = timed(lambda: ask(base, own), 15)
    program = statistics.median(times)
    worst = max(times) * 1e3
    print(f"{'readers program + table policy':48} {v.status:8} {program * 1e3:8.1f} {worst:8.1f}")
    times, v = timed(lambda: ask(forty(base), forty_table()), 5)
    big = statistics.median(times)
    print(f"{'readers 40 key + 40 table statements':48} {v.status:8} {big * 1e3:8.1f}")
    return program, big


def timed(fn: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    times, last = [], None
    for _ in range(runs):
        t = time.perf_counter()
        last = fn()
        times.append(time.perf_counter() - t)
    return times, last


def main() -> None:
    base = program_policy()
    changes = {
        "user loses ViaService": None,
        "other account's root": {
            "Sid": "Partner",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
            "Action": "kms:Decrypt",
            "Resource": "*",
        },
        "role pattern in account": {
            "Sid": "Apps",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:role/app-*"}},
        },
    }
    print(f"{'question':48} {'verdict':8} {'p50 ms':>8} {'max ms':>8}")
    p50s = []
    for name, st in changes.items():
        if st is None:
            new = copy.deepcopy(base)
            for s in new["Statement"]:
                s.pop("Condition", None)
        else:
            new = with_statement(base, st)
        times, v = timed(lambda new=new: no_new_access(base, new, key=KEY), 15)
        p50 = statistics.median(times)
        p50s.append(p50)
        print(
            f"no_new_access program vs {name:22} {v.status:8} {p50 * 1e3:8.1f} "
            f"{max(times) * 1e3:8.1f}"
        )
    times, v = timed(lambda: no_new_access(base, copy.deepcopy(base), key=KEY), 15)
    print(
        f"{'no_new_access program vs itself':48} {v.status:8} {statistics.median(times) * 1e3:8.1f}"
    )
    times, v = timed(lambda: no_public_access(base, [ACCT], key=KEY), 15)
    print(f"{'no_public_access program':48} {v.status:8} {statistics.median(times) * 1e3:8.1f}")
    big = forty(base)
    big_new = with_statement(big, changes["other account's root"])  # type: ignore[arg-type]
    times, v = timed(lambda: no_new_access(big, big_new, key=KEY), 5)
    big_p50 = statistics.median(times)
    print(f"{'no_new_access 40 statements vs +1':48} {v.status:8} {big_p50 * 1e3:8.1f}")
    times, v = timed(lambda: no_new_access(big, big, key=KEY), 5)
    print(
        f"{'no_new_access 40 statements vs itself':48} {v.status:8} "
        f"{statistics.median(times) * 1e3:8.1f}"
    )
    readers_p50, readers_big = bench_readers()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worst = max(p50s)
    print(
        f"program vs one-statement change: worst p50 {worst * 1e3:.1f} ms "
        f"(target < {TARGETS['program p50'] * 1e3:.0f} ms, "
        f"ratio {worst / TARGETS['program p50']:.2f})"
    )
    print(
        f"40 statements: p50 {big_p50:.2f} s (target < {TARGETS['40 statements']:.0f} s, "
        f"ratio {big_p50 / TARGETS['40 statements']:.2f})"
    )
    for label, got in (("readers program p50", readers_p50), ("readers 40+40", readers_big)):
        target = TARGETS[label]
        ratio = got / target
        print(f"{label}: {got * 1e3:.1f} ms (target < {target * 1e3:.0f} ms, ratio {ratio:.2f})")
    print(f"peak memory (max RSS): {peak:.0f} MiB (target < 300 MiB, ratio {peak / 300:.2f})")
    # Figures scale with the machine's load: say it, so a reader can compare runs.
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
