"""Act as a principal: temporary access keys for IAM users, AssumeRole for roles, and cleanup.

What a run creates is recorded in the run ledger first (`verification.ledger`), so that a run
killed midway leaves nothing a later run cannot find and remove.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmsguard.access.arn import iam_identity
from kmsguard.aws_errors import error_code
from verification.aws import Aws, Credentials
from verification.ledger import (
    PENDING,
    ROLE,
    Ledger,
    OwnRecord,
    PrincipalRef,
    held_signals,
    host_name,
    probe_item_value,
    process_start,
    run_alive,
)

# Run ids acting in this process: a record of this process with another run id is a run that
# ended here (its cleanup failed), not a live one.
_ACTIVE: set[str] = set()


class NotVerifiable(Exception):
    """The verifier cannot act as this principal; the message says why."""


def parse_principal(arn: str) -> PrincipalRef:
    if identity := iam_identity(arn):
        kind, _, name = identity
        return PrincipalRef(arn, kind, name)
    raise NotVerifiable(
        f"{arn} is neither an IAM user nor an IAM role; the verifier cannot act as it"
    )


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
            return [f"could not read {ref.arn}'s tags to find leftovers ({error_code(exc)})"]
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
                    problems.append(f"could not delete leftover key {value} ({error_code(exc)})")
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
                        f"cannot tag {ref.arn} to record the run ({error_code(exc)}); "
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
                f"cannot list {ref.name}'s access keys ({error_code(exc)})"
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
            if error_code(exc) == "LimitExceeded":
                raise NotVerifiable(
                    f"user {ref.name} has no free access key slot (IAM allows 2)"
                ) from None
            raise NotVerifiable(
                f"cannot create a temporary access key for {ref.name} ({error_code(exc)})"
            ) from None
        return Credentials(key["AccessKeyId"], key["SecretAccessKey"]), key["AccessKeyId"]

    def _assume(self, ref: PrincipalRef, run_id: str) -> Credentials:
        try:
            creds = self.sts.assume_role(
                RoleArn=ref.arn, RoleSessionName=f"kmsguard-verify-{run_id[:16]}"
            )["Credentials"]
        except (ClientError, BotoCoreError) as exc:
            raise NotVerifiable(f"cannot assume role {ref.arn} ({error_code(exc)})") from None
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
                    f"({error_code(exc)}); the next run removes it"
                )
        if recorded and not problems:
            try:
                record.erase()
            except (ClientError, BotoCoreError) as exc:
                problems.append(f"could not remove the run tag from {ref.arn} ({error_code(exc)})")
        notes.extend(problems)
