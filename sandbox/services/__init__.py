"""The services the sandbox serves, as moto lays them out: each one's hooks, by request name."""

from __future__ import annotations

from sandbox.services import dynamodb, iam, kms, sts
from sandbox.services.base import Host, Service

__all__ = ["REGISTRY", "Host", "Service", "of"]

# By the name a request is read under (sandbox.canonical: DynamoDB Streams is signed as
# dynamodb and told apart by its target).
REGISTRY: dict[str, Service] = {
    service.name: service
    for service in (kms.SERVICE, sts.SERVICE, iam.SERVICE, dynamodb.SERVICE, dynamodb.STREAMS)
}


def of(name: str) -> Service:
    """The service's hooks; a name without any (authentication refuses unknown services first)
    is checked as its action on "*"."""
    return REGISTRY.get(name) or Service(name)
