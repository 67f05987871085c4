"""IAM: the entity a request acts on, the user a request acts on implicitly, user boundaries."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from moto.iam.models import iam_backends

from kmsguard.access.arn import iam_arn
from kmsguard.access.catalog_file import views
from kmsguard.access.subject import Subject
from sandbox import identifiers, user_boundaries
from sandbox.check import Check, base_context
from sandbox.errors import ErrorResponse
from sandbox.services.base import Host, Service
from sandbox.settings import ACCOUNT_ID
from sandbox.wire import ApiRequest


def _iam_entity_arn(kind: str, name: str, entities: Mapping[str, Any]) -> str:
    entity = entities.get(name)
    if entity is not None and getattr(entity, "arn", None):
        return str(entity.arn)
    return iam_arn(ACCOUNT_ID, f"{kind}/{name}")


# IAM resource types (the catalog's ARN kinds) and the parameter that names each.
_IAM_NAMED_BY = {
    "user": "UserName",
    "group": "GroupName",
    "role": "RoleName",
    "instance-profile": "InstanceProfileName",
    "policy": "PolicyArn",
}


@functools.cache
def iam_resource_kinds(action: str) -> tuple[str, ...]:
    """The resource types the IAM action is authorized on (the IAM catalog), in its order:
    AddUserToGroup is on the group, not on the user it adds."""
    types = views().iam_resource_types.get(action, ())
    return tuple(kind for kind in types if kind in _IAM_NAMED_BY)


def checks(subject: Subject, request: ApiRequest) -> list[Check]:
    """The IAM action on the entity (or policy) its catalog entry says it is on."""
    params, action = request.params, request.action
    iam = iam_backends[ACCOUNT_ID]["aws"]
    context = base_context(subject, request)
    entities: dict[str, Mapping[str, Any]] = {
        "user": iam.users,
        "group": iam.groups,
        "role": iam.roles,
        "instance-profile": iam.instance_profiles,
    }
    resource = "*"
    for kind in iam_resource_kinds(action):
        value = params.get(_IAM_NAMED_BY[kind])
        if isinstance(value, str) and value:
            resource = value if kind == "policy" else _iam_entity_arn(kind, value, entities[kind])
            break
    return [Check(f"iam:{action}", resource, None, context)]


def answer(request: ApiRequest) -> tuple[int, bytes] | ErrorResponse | None:
    """User boundaries are served by the layer: moto keeps them for roles only."""
    return user_boundaries.apply(request) if user_boundaries.handles(request) else None


def after(host: Host, request: ApiRequest, chunks: list[bytes]) -> bytes:
    """User boundaries, which moto does not keep: remembered, and shown as AWS shows them."""
    user_boundaries.after(request)
    return user_boundaries.shown(request, b"".join(chunks))


SERVICE = Service(
    "iam",
    serves=user_boundaries.handles,
    resolve=identifiers.canonical_iam,
    checks=checks,
    answer=answer,
    after=after,
)
