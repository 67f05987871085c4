"""What discovery found: tables, keys, IAM and the calls that were refused."""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmsguard.aws_errors import error_code, error_message


@dataclass(frozen=True)
class Unreadable:
    """One call the audit was refused (or failed): what it could not read, and the action."""

    resource: str  # the ARN (or the account's, for IAM)
    action: str  # the IAM action the call needs, e.g. kms:GetKeyPolicy
    code: str
    message: str

    def describe(self) -> str:
        return f"cannot read {self.resource}: {self.action} refused ({self.code})"


@dataclass
class TableData:
    region: str
    name: str
    arn: str
    description: dict[str, Any]
    backups: dict[str, Any] | None = None
    tags: list[dict[str, str]] | None = None
    resource_policy: str | None = None
    stream_policy: str | None = None  # the resource-based policy on its latest stream
    unread: set[str] = field(default_factory=set)  # properties whose call was refused


@dataclass
class KeyData:
    region: str
    metadata: dict[str, Any]
    policy: str | None = None
    rotation: dict[str, Any] | None = None
    grants: list[dict[str, Any]] | None = None
    aliases: list[str] = field(default_factory=list)
    unread: set[str] = field(default_factory=set)

    @property
    def arn(self) -> str:
        return str(self.metadata["Arn"])


@dataclass
class Inventory:
    account: str
    partition: str
    regions: list[str]
    tables: list[TableData] = field(default_factory=list)
    keys: list[KeyData] = field(default_factory=list)
    # Keys that AWS manages (alias/aws/...): key ARN -> alias ARN; never judged as customer keys.
    aws_managed: dict[str, str] = field(default_factory=dict)
    # GetAccountAuthorizationDetails merged over its pages; None when it was refused.
    iam: dict[str, list[dict[str, Any]]] | None = None
    # Documents of the AWS managed policies in use, by ARN (GetPolicy, GetPolicyVersion).
    aws_policies: dict[str, Any] = field(default_factory=dict)
    unreadable: list[Unreadable] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)  # API calls made, per action


@dataclass(frozen=True)
class Selection:
    """--include / --exclude: globs on table names and on key aliases (or key ids)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def wants(self, names: Iterable[str]) -> bool:
        given = [n for n in names if n]
        if any(fnmatch.fnmatchcase(n, g) for n in given for g in self.exclude):
            return False
        return not self.include or any(
            fnmatch.fnmatchcase(n, g) for n in given for g in self.include
        )


class Calls:
    """Counts calls and turns refusals into Unreadable entries (thread-safe)."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self._lock = threading.Lock()

    def count(self, action: str, n: int = 1) -> None:
        with self._lock:
            self.inventory.calls[action] = self.inventory.calls.get(action, 0) + n

    def refused(self, resource: str, action: str, exc: ClientError | BotoCoreError) -> None:
        """A refusal (or a failure the retries did not overcome: its class is the code)."""
        entry = Unreadable(resource, action, error_code(exc), error_message(exc)[:300])
        with self._lock:
            self.inventory.unreadable.append(entry)
