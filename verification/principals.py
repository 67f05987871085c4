"""Act as a principal: temporary access keys for IAM users, AssumeRole for roles, and cleanup.

How leftovers of a crashed run are recognised: before creating anything, the verifier tags the
principal (the IAM user or role) with `kmsguard-verify-<run id>` = `pending`; once the access key
exists the tag's value becomes the key id. The probe item's key is derived from the same run id.
Tags live in the account, so a rerun on another machine (a new CI runner) still finds them. A
later run deletes exactly the recorded key ids and probe items, then removes the tag; keys it did
not record are never touched. The only window a crash can leave unrecorded is between
CreateAccessKey and the TagUser call right after it: SIGINT and SIGTERM are held off there, so
only SIGKILL or power loss in that instant can leave a key behind, and the next run reports it.
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from verification.aws import Aws, Credentials

TAG_PREFIX = "kmsguard-verify-"
PENDING = "pending"
ITEM_PREFIX = "kmsguard-verify-"

_USER = re.compile(r"^arn:[\w-]+:iam::(\d{12}):user/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$")
_ROLE = re.compile(r"^arn:[\w-]+:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$")


class NotVerifiable(Exception):
    """The verifier cannot act as this principal; the message says why."""


@dataclass(frozen=True)
class PrincipalRef:
    arn: str
    kind: str  # "user" or "role"
    name: str


def parse_principal(arn: str) -> PrincipalRef:
    if m := _USER.match(arn):
        return PrincipalRef(arn, "user", m.group(2))
    if m := _ROLE.match(arn):
        return PrincipalRef(arn, "role", m.group(2))
    raise NotVerifiable(
        f"{arn} is neither an IAM user nor an IAM role; the verifier cannot act as it"
    )


def new_run_id() -> str:
    return uuid.uuid4().hex


def tag_key(run_id: str) -> str:
    return f"{TAG_PREFIX}{run_id}"


def probe_item_value(run_id: str) -> str:
    return f"{ITEM_PREFIX}{run_id}"


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

    def records(self) -> dict[str, str]:
        """Run id -> recorded value (an access key id, or `pending`)."""
        return {
            t["Key"][len(TAG_PREFIX) :]: t["Value"]
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

    def __init__(self, aws: Aws, admin_iam: Any, admin_sts: Any, remove_items: ItemRemover) -> None:
        self.aws = aws
        self.iam = admin_iam
        self.sts = admin_sts
        # remove_items(probe item values, dynamodb clients to try) -> problems; supplied by the
        # runner, which knows the table's key schema.
        self.remove_items = remove_items
        # Leftover run ids whose probe items the admin could not delete: retried as the principal.
        self._unfinished: dict[str, set[str]] = {}

    def recover(self, ref: PrincipalRef, extra_clients: list[Any] | None = None) -> list[str]:
        """Remove what earlier crashed runs left on `ref`. Returns notes for the report."""
        notes: list[str] = []
        ledger = Ledger(self.iam, ref)
        try:
            records = ledger.records()
        except (ClientError, BotoCoreError) as exc:
            return [f"could not read {ref.arn}'s tags to find leftovers ({_error_code(exc)})"]
        if not records:
            return notes
        keys = self._key_ids(ref) if ref.kind == "user" else []
        for run_id, value in sorted(records.items()):
            problems: list[str] = []
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
        acting: Acting | None = None
        created_key: str | None = None
        recorded = False
        try:
            if ref.kind == "user":
                self._check_key_slot(ref)
            with held_signals():
                try:
                    ledger.write(run_id, PENDING)
                    recorded = True
                except (ClientError, BotoCoreError) as exc:
                    raise NotVerifiable(
                        f"cannot tag {ref.arn} to record the run ({_error_code(exc)}); "
                        "the admin needs iam:TagUser/TagRole"
                    ) from None
                if ref.kind == "user":
                    credentials, created_key = self._create_key(ref)
                    ledger.write(run_id, created_key)
                else:
                    credentials = self._assume(ref, run_id)
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
            with held_signals():
                self._release(ref, ledger, run_id, acting, created_key, recorded, notes)

    def _check_key_slot(self, ref: PrincipalRef) -> None:
        try:
            keys = self._key_ids(ref)
        except (ClientError, BotoCoreError) as exc:
            raise NotVerifiable(
                f"cannot list {ref.name}'s access keys ({_error_code(exc)})"
            ) from None
        if len(keys) >= 2:
            raise NotVerifiable(
                f"user {ref.name} already has 2 access keys (IAM's limit) and none is a leftover "
                "of the verifier; free one slot to let it create a temporary key"
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
        run_id: str,
        acting: Acting | None,
        created_key: str | None,
        recorded: bool,
        notes: list[str],
    ) -> None:
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
                ledger.erase(run_id)
            except (ClientError, BotoCoreError) as exc:
                problems.append(f"could not remove the run tag from {ref.arn} ({_error_code(exc)})")
        notes.extend(problems)
