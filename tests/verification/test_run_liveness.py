"""Which run records belong to a live run: the rule that keeps runs from removing each other's."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable

import pytest

from verification.ledger import (
    LEASE_SECONDS,
    PENDING,
    Owner,
    OwnRecord,
    RunRecord,
    encode_record,
    host_name,
    parse_record,
    process_start,
    run_alive,
)

NOW = 1_800_000_000.0
# IAM's rule for tag values.
TAG_VALUE = re.compile(r"^[\w\s.:/=+\-@]{0,256}$")


def starts(**table: str | None) -> Callable[[int], str | None]:
    """A process table: pid -> start time, None for a process that does not run."""
    return lambda pid: table.get(f"p{pid}")


@pytest.mark.parametrize(
    ("owner", "alive"),
    [
        # Same host: the pid and its start time decide, whatever the lease says.
        (Owner("ci-1", 10, "500", NOW - 1), True),
        (Owner("ci-1", 11, "500", NOW + 100), False),  # the pid does not run
        (Owner("ci-1", 12, "500", NOW + 100), False),  # the pid was reused by another process
        # Same host, start times not comparable (no /proc): the lease decides.
        (Owner("ci-1", 13, "", NOW + 100), True),
        (Owner("ci-1", 13, "", NOW - 1), False),
        # Another host cannot see its pids: the lease decides.
        (Owner("ci-2", 10, "500", NOW + 100), True),
        (Owner("ci-2", 10, "500", NOW - 1), False),
        (Owner("ci-2", 10, "500", NOW), False),
        # A record of the older form names no owner: a run that ended, removed as before.
        (None, False),
    ],
)
def test_liveness_decision(owner: Owner | None, alive: bool) -> None:
    table = starts(p10="500", p12="777", p13="")
    assert run_alive(owner, host="ci-1", now=NOW, start_of=table) is alive


def test_records_round_trip_and_fit_iam_tag_values() -> None:
    owner = Owner("x" * 64, 4_194_304, "18446744073709551615", NOW + LEASE_SECONDS)
    for key in (PENDING, "role", "AKIA" + "Z" * 16):
        value = encode_record(key, owner)
        assert TAG_VALUE.match(value) and len(value) <= 256
        assert parse_record(value) == RunRecord(key, owner)
    assert parse_record(encode_record(PENDING, Owner("h", 1, "", NOW))).owner == Owner(
        "h", 1, "", NOW
    )


@pytest.mark.parametrize("value", [PENDING, "AKIAOLDRUNKEY0000000"])
def test_values_of_the_older_form_are_ended_runs(value: str) -> None:
    assert parse_record(value) == RunRecord(value, None)


def test_a_malformed_record_is_an_ended_run_keeping_its_key() -> None:
    assert parse_record("key=AKIA1 host=h pid=notanumber") == RunRecord("AKIA1", None)


def test_host_name_uses_only_characters_a_tag_value_and_the_parser_allow() -> None:
    assert re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", host_name())


def test_process_start_of_a_running_and_an_ended_process() -> None:
    assert process_start(os.getpid()) is not None
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert process_start(child.pid) is None


class FakeLedger:
    def __init__(self) -> None:
        self.writes: list[str] = []
        self.erased = False

    def write(self, run_id: str, value: str) -> None:
        self.writes.append(value)

    def erase(self, run_id: str) -> None:
        self.erased = True


def test_refresh_extends_the_lease_and_never_rewrites_an_erased_record() -> None:
    ledger = FakeLedger()
    clock = [NOW]
    record = OwnRecord(ledger, "r1", "ci-1", "500", lambda: clock[0])  # type: ignore[arg-type]
    record.refresh()
    assert ledger.writes == []  # nothing recorded yet: nothing to refresh
    record.write("AKIA1")
    clock[0] += 60
    record.refresh()
    first, second = (parse_record(v) for v in ledger.writes)
    assert first.key == second.key == "AKIA1"
    assert first.owner is not None and second.owner is not None
    assert first.owner.until == NOW + LEASE_SECONDS
    assert second.owner.until == NOW + 60 + LEASE_SECONDS
    assert second.owner.pid == os.getpid()
    record.erase()
    record.refresh()
    assert ledger.erased and len(ledger.writes) == 2
