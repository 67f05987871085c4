"""Act as a principal: temporary access keys for IAM users, AssumeRole for roles, and cleanup.

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
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmsguard.access.arn import iam_identity
from verification.aws import Aws, Credentials

TAG_PREFIX = "kmsguard-verify-"
PENDING = "pending"
ROLE = "role"
ITEM_PREFIX = "kmsguard-verify-"
# Run ids acting in this process: a record of this process with another run id is a run that
# ended here (its cleanup failed), not a live one.
_ACTIVE: set[str] = set()
# Long enough that a busy runner misses several refreshes before another host takes it for dead.
LEASE_SECONDS = 300.0
REFRESH_SECONDS = 60.0


class NotVerifiable(Exception):
    """The verifier cannot act as this principal; the message says why."""


@dataclass(frozen=True)
class PrincipalRef:
    arn: str
    kind: str  # "user" or "role"
    name: str


def parse_principal(arn: str) -> PrincipalRef:
    if identity := iam_identity(arn):
        kind, _, name = identity
        return PrincipalRef(arn, kind, name)
    raise NotVerifiable(
        f"{arn} is neither an IAM user nor an IAM role; the verifier cannot act as it"
    )


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


def _error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__


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


@dataclass
class Acting:
    """Clients acting as the principal, plus what the run must clean up."""

    ref: PrincipalRef
    run_id: str
    credentials: Credentials
    dynamodb: Any
    kms: Any
    notes: list[str] = field(default_factory=list)
    # Cleared by the runner when every PutItem attempt was refused, so cleanup doesn't try to
    # delete an item that was never written (and report a spurious failure when it can't).
    item_may_exist: bool = True


ItemRemover = Callable[[list[str], list[Any]], list[str]]


class PrincipalActor:
    """Acquires and always releases the means to act as principals, as the admin."""

    def __init__(
        self,
        aws: Aws,
        admin_iam: Any,
        admin_sts: Any,
        remove_items: ItemRemover,
        *,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.aws = aws
        self.wall = wall
        self.host = host_name()
        self.start = process_start(os.getpid()) or ""
        self.iam = admin_iam
        self.sts = admin_sts
        # remove_items(probe item values, dynamodb clients to try) -> problems; supplied by the
        # runner, which knows the table's key schema.
        self.remove_items = remove_items
        # Leftover run ids whose probe items the admin could not delete: retried as the principal.
        self._unfinished: dict[str, set[str]] = {}

    def recover(self, ref: PrincipalRef, extra_clients: list[Any] | None = None) -> list[str]:
        """Remove what ended runs left on `ref`; live runs' records stay. Returns report notes."""
        notes: list[str] = []
        ledger = Ledger(self.iam, ref)
        try:
            records = ledger.records()
        except (ClientError, BotoCoreError) as exc:
            return [f"could not read {ref.arn}'s tags to find leftovers ({_error_code(exc)})"]
        if not records:
            return notes
        keys = self._key_ids(ref) if ref.kind == "user" else []
        now = self.wall()
        for run_id, record in sorted(records.items()):
            problems: list[str] = []
            value, owner = record.key, record.owner
            if owner is not None and (
                run_id in _ACTIVE
                if (owner.host, owner.pid) == (self.host, os.getpid())
                else run_alive(owner, host=self.host, now=now)
            ):
                what = "probe item" if ref.kind == "role" else "key"
                notes.append(
                    f"another verifier run (pid {owner.pid}, host {owner.host}) is active on "
                    f"{ref.arn}; its {what} was left alone"
                )
                continue
            if value == PENDING:
                notes.append(
                    f"an earlier run on {ref.arn} was killed while creating an access key; "
                    "a key it may have created is not recorded, check the user's keys"
                )
            elif ref.kind == "user" and value in keys:
                try:
                    self.iam.delete_access_key(UserName=ref.name, AccessKeyId=value)
                    notes.append(f"removed access key {value} left on {ref.name} by an earlier run")
                except (ClientError, BotoCoreError) as exc:
                    problems.append(f"could not delete leftover key {value} ({_error_code(exc)})")
            clients = [*(extra_clients or []), self.aws.client("dynamodb")]
            item_problems = self.remove_items([probe_item_value(run_id)], clients)
            if item_problems:
                self._unfinished.setdefault(ref.arn, set()).add(run_id)
            problems += item_problems
            if problems:
                notes.extend(problems)
                continue
            with contextlib.suppress(ClientError, BotoCoreError):
                ledger.erase(run_id)
        return notes

    def _key_ids(self, ref: PrincipalRef) -> list[str]:
        pages = self.iam.get_paginator("list_access_keys").paginate(UserName=ref.name)
        return [k["AccessKeyId"] for page in pages for k in page.get("AccessKeyMetadata", [])]

    @contextlib.contextmanager
    def act_as(self, arn: str, run_id: str, wait_usable: Callable[[Any], None]) -> Iterator[Acting]:
        """Yield clients acting as `arn`; every key, tag and probe item is removed on exit.

        `wait_usable(sts_client)` blocks until new credentials work (IAM is eventually
        consistent) and raises NotVerifiable if they never do.
        """
        ref = parse_principal(arn)
        notes = self.recover(ref)
        ledger = Ledger(self.iam, ref)
        record = OwnRecord(ledger, run_id, self.host, self.start, self.wall)
        acting: Acting | None = None
        created_key: str | None = None
        recorded = False
        _ACTIVE.add(run_id)
        try:
            if ref.kind == "user":
                self._check_key_slot(ref)
            with held_signals():
                try:
                    record.write(PENDING if ref.kind == "user" else ROLE)
                    recorded = True
                except (ClientError, BotoCoreError) as exc:
                    raise NotVerifiable(
                        f"cannot tag {ref.arn} to record the run ({_error_code(exc)}); "
                        "the admin needs iam:TagUser/TagRole"
                    ) from None
                if ref.kind == "user":
                    credentials, created_key = self._create_key(ref)
                    record.write(created_key)
                else:
                    credentials = self._assume(ref, run_id)
            with record.heartbeat():
                sts = self.aws.client("sts", credentials)
                wait_usable(sts)
                acting = Acting(
                    ref,
                    run_id,
                    credentials,
                    self.aws.client("dynamodb", credentials),
                    self.aws.client("kms", credentials),
                    notes,
                )
                yield acting
        finally:
            try:
                with held_signals():
                    self._release(ref, ledger, record, acting, created_key, recorded, notes)
            finally:
                _ACTIVE.discard(run_id)

    def _check_key_slot(self, ref: PrincipalRef) -> None:
        try:
            keys = self._key_ids(ref)
        except (ClientError, BotoCoreError) as exc:
            raise NotVerifiable(
                f"cannot list {ref.name}'s access keys ({_error_code(exc)})"
            ) from None
        if len(keys) >= 2:
            raise NotVerifiable(
                f"user {ref.name} already has 2 access keys (IAM's limit), none a leftover of a "
                "verifier run that ended; free one slot to let it create a temporary key"
            )

    def _create_key(self, ref: PrincipalRef) -> tuple[Credentials, str]:
        try:
            key = self.iam.create_access_key(UserName=ref.name)["AccessKey"]
        except ClientError as exc:
            if _error_code(exc) == "LimitExceeded":
                raise NotVerifiable(
                    f"user {ref.name} has no free access key slot (IAM allows 2)"
                ) from None
            raise NotVerifiable(
                f"cannot create a temporary access key for {ref.name} ({_error_code(exc)})"
            ) from None
        return Credentials(key["AccessKeyId"], key["SecretAccessKey"]), key["AccessKeyId"]

    def _assume(self, ref: PrincipalRef, run_id: str) -> Credentials:
        try:
            creds = self.sts.assume_role(
                RoleArn=ref.arn, RoleSessionName=f"kmsguard-verify-{run_id[:16]}"
            )["Credentials"]
        except (ClientError, BotoCoreError) as exc:
            raise NotVerifiable(f"cannot assume role {ref.arn} ({_error_code(exc)})") from None
        return Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])

    def _release(
        self,
        ref: PrincipalRef,
        ledger: Ledger,
        record: OwnRecord,
        acting: Acting | None,
        created_key: str | None,
        recorded: bool,
        notes: list[str],
    ) -> None:
        run_id = record.run_id
        problems: list[str] = []
        if recorded:
            # Probe items first, while the principal's own credentials still work: the admin
            # may not be allowed to use the key (no root delegation, not a key user).
            clients = [acting.dynamodb] if acting else []
            if acting is None or acting.item_may_exist:
                clients.append(self.aws.client("dynamodb"))
                problems += self.remove_items([probe_item_value(run_id)], clients)
        if acting is not None:
            for old in sorted(self._unfinished.pop(ref.arn, set())):
                if not self.remove_items([probe_item_value(old)], [acting.dynamodb]):
                    with contextlib.suppress(ClientError, BotoCoreError):
                        ledger.erase(old)
                    notes.append(f"removed a probe item left by an earlier run ({old[:8]})")
        if created_key is not None:
            try:
                self.iam.delete_access_key(UserName=ref.name, AccessKeyId=created_key)
            except (ClientError, BotoCoreError) as exc:
                problems.append(
                    f"could not delete temporary key {created_key} of {ref.name} "
                    f"({_error_code(exc)}); the next run removes it"
                )
        if recorded and not problems:
            try:
                record.erase()
            except (ClientError, BotoCoreError) as exc:
                problems.append(f"could not remove the run tag from {ref.arn} ({_error_code(exc)})")
        notes.extend(problems)
