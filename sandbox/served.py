"""The operations the sandbox serves: AWS's operations (botocore's models) that moto implements."""

from __future__ import annotations

import functools
from typing import Any

# Signing name -> moto's response class for it.
_HANDLERS = {
    "dynamodb": ("moto.dynamodb.responses", "DynamoHandler"),
    "dynamodbstreams": ("moto.dynamodbstreams.responses", "DynamoDBStreamsHandler"),
    "kms": ("moto.kms.responses", "KmsResponse"),
    "iam": ("moto.iam.responses", "IamResponse"),
    "sts": ("moto.sts.responses", "TokenResponse"),
}

# Web identity and SAML federation: the sandbox has no identity providers to check the token
# against, so serving them would hand out role credentials on an unverified claim.
_WITHHELD = {"sts": frozenset({"AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"})}


@functools.cache
def _session() -> Any:
    # One session reads botocore's data directories once for every service's model.
    import botocore.session

    return botocore.session.get_session()


@functools.cache
def _model(service: str) -> Any:
    return _session().get_service_model(service)


@functools.cache
def operations(service: str) -> frozenset[str]:
    """Operation names of `service` that requests may call (empty for an unknown service)."""
    if service not in _HANDLERS:
        return frozenset()
    import importlib

    from moto.core.utils import camelcase_to_underscores

    module, name = _HANDLERS[service]
    handler = getattr(importlib.import_module(module), name)
    withheld = _WITHHELD.get(service, frozenset())
    return frozenset(
        op
        for op in _model(service).operation_names
        if hasattr(handler, camelcase_to_underscores(op)) and op not in withheld
    )


def is_served(service: str, action: str) -> bool:
    return action in operations(service)


def input_shape(service: str, action: str) -> Any:
    """botocore's input shape of a served operation (None when it takes no input)."""
    return _model(service).operation_model(action).input_shape
