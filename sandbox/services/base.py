"""What a service plugs into the check pipeline: how its requests are resolved and authorized."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

from kmsguard.access.subject import Subject
from sandbox.check import Check, base_context
from sandbox.engine import Engine, Verdict
from sandbox.errors import ErrorResponse
from sandbox.kms_rotation import RotationPeriods
from sandbox.wire import ApiRequest


class Host(Protocol):
    """What a service's hooks may use of the authorizing layer."""

    @property
    def engine(self) -> Engine: ...

    @property
    def lock(self) -> AbstractContextManager[Any]: ...

    @property
    def rotation(self) -> RotationPeriods: ...

    def decide(self, subject: Subject, check: Check) -> Verdict: ...


Checks = Callable[[Subject, ApiRequest], list[Check]]


def every_action_on_anything(subject: Subject, request: ApiRequest) -> list[Check]:
    """The request's own action on "*" (a service that names no resources)."""
    return [Check(f"{request.service}:{request.action}", "*", None, base_context(subject, request))]


def _unchanged(request: ApiRequest, subject: Subject) -> dict[str, Any] | None:
    return None


def _no_lockout(subject: Subject, request: ApiRequest) -> Check | None:
    return None


def _valid(
    host: Host, subject: Subject, request: ApiRequest, lockout: Check | None
) -> ErrorResponse | None:
    return None


def _served_by_moto(request: ApiRequest) -> bool:
    return False


def _moto_answers(request: ApiRequest) -> tuple[int, bytes] | ErrorResponse | None:
    return None


def _unconfined(request: ApiRequest) -> AbstractContextManager[None]:
    return nullcontext()


def _as_moto_said(host: Host, request: ApiRequest, chunks: list[bytes]) -> bytes | None:
    return None


@dataclass(frozen=True)
class Service:
    """One service's hooks, called by the middleware in this order for each request.

    Every hook but `serves` and `validate` runs under the layer's lock (moto's state is not
    safe for concurrent use); `resolve` and `checks` refuse a request by raising
    `canonical.Refused`.
    """

    name: str
    # Operations the layer serves itself, beside moto's (refused as unknown otherwise).
    serves: Callable[[ApiRequest], bool] = _served_by_moto
    # The parameters moto will run, identifiers resolved as moto looks them up (None: as sent).
    resolve: Callable[[ApiRequest, Subject], dict[str, Any] | None] = _unchanged
    # Every check the request must pass, in AWS's order (service action first, then KMS).
    checks: Checks = every_action_on_anything
    # A check decided only after `validate` has read the document it is about.
    lockout: Callable[[Subject, ApiRequest], Check | None] = _no_lockout
    # What AWS refuses beyond authorization, once every check passed.
    validate: Callable[[Host, Subject, ApiRequest, Check | None], ErrorResponse | None] = _valid
    # An answer the layer gives instead of moto: (status, XML body) or the refusal; None: moto's.
    answer: Callable[[ApiRequest], tuple[int, bytes] | ErrorResponse | None] = _moto_answers
    # What moto may touch while it runs the request.
    confine: Callable[[ApiRequest], AbstractContextManager[None]] = _unconfined
    # After moto succeeded: remember what the layer keeps beside moto; the body to send
    # instead of moto's, or None to send moto's.
    after: Callable[[Host, ApiRequest, list[bytes]], bytes | None] = _as_moto_said
