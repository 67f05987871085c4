"""The run ledger: records of each verifier run on its principal's tags, and their leases.

How leftovers of a crashed run are recognised: before creating anything, the verifier tags the
principal (the IAM user or role) with `kmsguard-verify-<run id>` =
`key=pending host=<host> pid=<pid> start=<process start> until=<lease expiry, epoch s>`; once the
access key exists, `key=` holds its id (`key=role` for a role). The probe item's key is derived
from the same run id. Tags live in the account, so a rerun on another machine (a new CI runner)
still finds them. A later run deletes exactly the recorded key ids and probe items of runs that
are no longer alive, then removes their tags; keys it did not record are never touched.

A run is alive when, on the same host (same host name), its pid runs with the recorded start
time; when the start time cannot be compared (no /proc), or the host differs (another runner
cannot see its pids), when its lease has not expired. A live run refreshes its lease every
REFRESH_SECONDS for LEASE_SECONDS, so a run on another host is taken for dead at most
LEASE_SECONDS after it stopped. Tags of a live run are left alone and the report says so.
Values of the older form (just `pending` or a key id, no owner) are runs that ended.

The only window a crash can leave unrecorded is between CreateAccessKey and the TagUser call
right after it: SIGINT and SIGTERM are held off there, so only SIGKILL or power loss in that
instant can leave a key behind, and the next run reports it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

TAG_PREFIX = "kmsguard-verify-"
PENDING = "pending"
ROLE = "role"
ITEM_PREFIX = "kmsguard-verify-"
# Long enough that a busy runner misses several refreshes before another host takes it for dead.
LEASE_SECONDS = 300.0
REFRESH_SECONDS = 60.0


@dataclass(frozen=True)
class PrincipalRef:
    """An IAM user or role: the principal a run acts as, whose tags hold the run records."""

    arn: str
    kind: str  # "user" or "role"
    name: str


def new_run_id() -> str:
    return uuid.uuid4().hex


def tag_key(run_id: str) -> str:
    return f"{TAG_PREFIX}{run_id}"


def probe_item_value(run_id: str) -> str:
    return f"{ITEM_PREFIX}{run_id}"


@dataclass(frozen=True)
class Owner:
    """Who wrote a run record: enough to tell whether that run is still alive."""

    host: str
    pid: int
    start: str  # "" when the writer could not read its own start time
    until: float  # lease expiry, seconds since the epoch


@dataclass(frozen=True)
class RunRecord:
    key: str  # an access key id, PENDING, or ROLE
    owner: Owner | None  # None for a record of the older form: a run that ended


def host_name() -> str:
    """This host's name, reduced to characters a tag value allows and `parse_record` splits on."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname())[:64] or "unknown"


def process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot); None if it does not run (or is
    a zombie), "" if it runs but this platform has no /proc to read the start time from."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            # The command name in parentheses may hold spaces: the fields start after its end.
            fields = f.read().rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else fields[19]
    except FileNotFoundError:
        return None
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return ""
    return ""


def encode_record(key: str, owner: Owner) -> str:
    start = owner.start or "-"
    return f"key={key} host={owner.host} pid={owner.pid} start={start} until={int(owner.until)}"


def parse_record(value: str) -> RunRecord:
    if not value.startswith("key="):
        return RunRecord(value, None)
    fields = dict(part.split("=", 1) for part in value.split() if "=" in part)
    key = fields.get("key", "")
    try:
        start = fields["start"]
        owner = Owner(
            fields["host"], int(fields["pid"]), "" if start == "-" else start, int(fields["until"])
        )
    except (KeyError, ValueError):
        return RunRecord(key, None)
    return RunRecord(key, owner)


def run_alive(
    owner: Owner | None,
    *,
    host: str,
    now: float,
    start_of: Callable[[int], str | None] = process_start,
) -> bool:
    """Whether the run that wrote a record still runs (the rule of the module docstring)."""
    if owner is None:
        return False
    if owner.host == host:
        started = start_of(owner.pid)
        if started is None:
            return False
        if started and owner.start:
            return started == owner.start
    return now < owner.until


@contextlib.contextmanager
def held_signals() -> Iterator[None]:
    """Hold off SIGINT/SIGTERM (delivered on exit), so a Ctrl-C can't split create-and-record."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class Ledger:
    """The run records kept as tags on the principal (see the module docstring)."""

    def __init__(self, iam: Any, ref: PrincipalRef) -> None:
        self.iam = iam
        self.ref = ref

    def _list(self) -> list[dict[str, str]]:
        tags: list[dict[str, str]] = []
        marker: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Marker": marker} if marker else {}
            if self.ref.kind == "user":
                page = self.iam.list_user_tags(UserName=self.ref.name, **kwargs)
            else:
                page = self.iam.list_role_tags(RoleName=self.ref.name, **kwargs)
            tags.extend(page.get("Tags", []))
            if not page.get("IsTruncated"):
                return tags
            marker = page.get("Marker")

    def records(self) -> dict[str, RunRecord]:
        """Run id -> what the run recorded."""
        return {
            t["Key"][len(TAG_PREFIX) :]: parse_record(t["Value"])
            for t in self._list()
            if t["Key"].startswith(TAG_PREFIX)
        }

    def write(self, run_id: str, value: str) -> None:
        tags = [{"Key": tag_key(run_id), "Value": value}]
        if self.ref.kind == "user":
            self.iam.tag_user(UserName=self.ref.name, Tags=tags)
        else:
            self.iam.tag_role(RoleName=self.ref.name, Tags=tags)

    def erase(self, run_id: str) -> None:
        if self.ref.kind == "user":
            self.iam.untag_user(UserName=self.ref.name, TagKeys=[tag_key(run_id)])
        else:
            self.iam.untag_role(RoleName=self.ref.name, TagKeys=[tag_key(run_id)])


class OwnRecord:
    """This run's record on one principal; its lease is refreshed until it is erased."""

    def __init__(
        self, ledger: Ledger, run_id: str, host: str, start: str, wall: Callable[[], float]
    ) -> None:
        self.ledger = ledger
        self.run_id = run_id
        self.host = host
        self.start = start
        self.wall = wall
        # The heartbeat thread and the run write the same tag: one at a time, never after erase.
        self._lock = threading.Lock()
        self._key: str | None = None
        self._erased = False

    def write(self, key: str) -> None:
        with self._lock:
            self._key = key
            self._put(key)

    def refresh(self) -> None:
        with self._lock:
            if self._key is not None and not self._erased:
                self._put(self._key)

    def erase(self) -> None:
        with self._lock:
            self.ledger.erase(self.run_id)
            self._erased = True

    def _put(self, key: str) -> None:
        owner = Owner(self.host, os.getpid(), self.start, self.wall() + LEASE_SECONDS)
        self.ledger.write(self.run_id, encode_record(key, owner))

    @contextlib.contextmanager
    def heartbeat(self, every: float = REFRESH_SECONDS) -> Iterator[None]:
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every):
                # A missed refresh is retried next time; the lease outlasts several.
                with contextlib.suppress(ClientError, BotoCoreError):
                    self.refresh()

        thread = threading.Thread(target=beat, name="kmsguard-verify-lease", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
