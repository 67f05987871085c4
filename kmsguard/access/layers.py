"""Boundaries, session policies, SCPs, RCPs, VPC endpoint policies, grants and request time."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from kmsguard.access.errors import PolicyDocumentError
from kmsguard.access.grants import Grant, encryption_context, parse_grant
from kmsguard.access.policy import Policy, PolicyKind, parse_policy

# The scenario keys of each mechanism, as `decide` reads them (also the labels in decisions).
BOUNDARY = "permissions_boundary"
SESSIONS = "session_policies"
SCPS = "scps"
RCPS = "rcps"
VPCE = "vpce_policy"
GRANTS = "grants"
REQUEST_TIME = "request_time"


@dataclass(frozen=True, slots=True)
class Layers:
    """Everything besides identity and resource policies that can decide one request."""

    boundary: Policy | None = None
    sessions: tuple[Policy, ...] = ()
    scps: tuple[Policy, ...] = ()
    rcps: tuple[Policy, ...] = ()
    vpce: Policy | None = None
    grants: tuple[Grant, ...] = ()
    # The request's encryption context (keys as given), for grant constraints; None: none sent.
    encryption_context: Mapping[str, str] | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.boundary or self.sessions or self.scps or self.rcps or self.vpce or self.grants
        )


NO_LAYERS = Layers()


def _one(doc: Any, kind: PolicyKind, label: str) -> Policy:
    if isinstance(doc, Policy):
        if doc.kind != kind:
            raise PolicyDocumentError(
                "", f"expected a {kind} policy, got a {doc.kind} policy"
            ).within(label)
        if doc.problems:
            raise doc.problems[0].within(label)
        return doc
    try:
        return parse_policy(doc, kind=kind)
    except PolicyDocumentError as exc:
        raise exc.within(label) from None


def _many(docs: Any, kind: PolicyKind, name: str) -> tuple[Policy, ...]:
    if docs is None:
        return ()
    if isinstance(docs, str | bytes | Mapping | Policy) or not isinstance(docs, Sequence):
        raise PolicyDocumentError(name, "must be a list of policy documents")
    return tuple(_one(d, kind, f"{name}[{i}]") for i, d in enumerate(docs))


def build_layers(
    *,
    permissions_boundary: Any = None,
    session_policies: Any = None,
    scps: Any = None,
    rcps: Any = None,
    vpce_policy: Any = None,
    grants: Any = None,
    context: Mapping[str, Any] | None = None,
) -> Layers:
    """Validate and compile the mechanisms; every error names the document and the path."""
    if (
        permissions_boundary is None
        and not session_policies
        and not scps
        and not rcps
        and vpce_policy is None
        and not grants
    ):
        return NO_LAYERS
    boundary = (
        None if permissions_boundary is None else _one(permissions_boundary, "identity", BOUNDARY)
    )
    vpce = None if vpce_policy is None else _one(vpce_policy, "resource", VPCE)
    if grants is None:
        parsed_grants: tuple[Grant, ...] = ()
    elif isinstance(grants, str | bytes | Mapping) or not isinstance(grants, Sequence):
        raise PolicyDocumentError(GRANTS, "must be a list of grants in ListGrants shape")
    else:
        parsed_grants = tuple(parse_grant(g, f"{GRANTS}[{i}]") for i, g in enumerate(grants))
    return Layers(
        boundary=boundary,
        sessions=_many(session_policies, "identity", SESSIONS),
        scps=_many(scps, "identity", SCPS),
        rcps=_many(rcps, "resource", RCPS),
        vpce=vpce,
        grants=parsed_grants,
        encryption_context=encryption_context(context),
    )


@lru_cache(maxsize=2)
def _now_keys(epoch: int) -> dict[str, Any]:
    # One formatting per second: the evaluator is called thousands of times a second.
    return time_keys(datetime.fromtimestamp(epoch, UTC))


def time_keys(request_time: Any) -> dict[str, Any]:
    """`aws:CurrentTime` (ISO 8601, UTC) and `aws:EpochTime` (seconds) for the request time.

    A time without a zone is UTC; no request time means now, as every AWS request has a time.
    """
    if request_time is None:
        return _now_keys(int(time.time()))
    if isinstance(request_time, datetime):
        when = request_time
    elif isinstance(request_time, str):
        try:
            when = datetime.fromisoformat(request_time.strip().replace("Z", "+00:00"))
        except ValueError:
            raise PolicyDocumentError(
                REQUEST_TIME,
                f"{request_time!r} is not an ISO 8601 time, e.g. 2026-01-31T12:00:00Z",
            ) from None
    else:
        raise PolicyDocumentError(REQUEST_TIME, "must be an ISO 8601 time string")
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC).replace(microsecond=0)
    return {
        "aws:currenttime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:epochtime": int(when.timestamp()),
    }
