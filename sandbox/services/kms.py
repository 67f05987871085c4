"""KMS: the key (or alias) a request acts on, and what AWS refuses beyond authorization."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from moto.kms.models import kms_backends

from kmsguard.access.arn import RESERVED_ALIAS_PREFIX, alias_arn, is_reserved_alias, key_arn
from kmsguard.access.subject import Subject
from kmsguard.contract import CALLER_ACCOUNT
from sandbox import errors, identifiers
from sandbox.canonical import Refused
from sandbox.check import Check, arn_of, base_context, is_root
from sandbox.engine import PolicyInvalid
from sandbox.errors import ErrorResponse
from sandbox.keys import find_key, key_from_ciphertext, key_grants, key_policy, kms_refusal
from sandbox.services.base import Host, Service
from sandbox.settings import ACCOUNT_ID
from sandbox.wire import ApiRequest

LOCKOUT_MESSAGE = "The new key policy will not allow you to update the key policy in the future."
# KMS operations on no key (IAM policy on "*").
KMS_KEYLESS = frozenset(
    {"CreateKey", "ListKeys", "ListAliases", "GenerateRandom", "ListRetirableGrants"}
)
ALIAS_ACTIONS = frozenset({"CreateAlias", "UpdateAlias", "DeleteAlias"})


def _incorrect_key(name: str) -> Refused:
    return kms_refusal(
        "IncorrectKeyException",
        f"The key in {name} is not the KMS key the ciphertext was encrypted under.",
    )


def _may_retire(subject: Subject, region: str, params: Mapping[str, Any]) -> bool:
    """AWS: a grant's retiring principal, its grantee when it lists RetireGrant, and the account
    it was created in (the sandbox's one account, whose root the admin is) may retire it without
    any policy (RetireGrant by GrantToken or by KeyId + GrantId)."""
    token, gid = params.get("GrantToken"), params.get("GrantId")
    me = {arn_of(subject).lower(), (subject.policy_principal or "").lower()}
    for key in kms_backends[ACCOUNT_ID][region].keys.values():
        for grant in getattr(key, "grants", {}).values():
            if (token and grant.token == token) or (gid and grant.id == gid):
                retiring = str(grant.retiring_principal or "").lower()
                grantee = str(grant.grantee_principal or "").lower()
                if is_root(subject) and subject.account == ACCOUNT_ID:
                    return True
                return retiring in me or (grantee in me and "RetireGrant" in grant.operations)
    return False


def checks(subject: Subject, request: ApiRequest) -> list[Check]:
    """The KMS action on the key the request acts on (for an alias, on it and its keys)."""
    params, region, action = request.params, request.region, request.action
    context = base_context(subject, request)
    if subject.account:
        context[CALLER_ACCOUNT] = subject.account

    ec = params.get("EncryptionContext")
    if isinstance(ec, dict):
        # Grant constraints compare the request's encryption context.
        context.update({f"kms:EncryptionContext:{k}": v for k, v in ec.items()})

    def on_key(iam_action: str, key: Any) -> Check:
        policy = key_policy(key, region)
        return Check(
            iam_action,
            key.arn,
            policy,
            context,
            key_state=str(key.key_state),
            grants=key_grants(key),
        )

    if action in ("Decrypt", "ReEncrypt"):
        # The ciphertext names its key; a key parameter may only repeat it (AWS:
        # IncorrectKeyException otherwise).
        source = key_from_ciphertext(region, params.get("CiphertextBlob"))
        named = "KeyId" if action == "Decrypt" else "SourceKeyId"
        if params.get(named) and find_key(region, params.get(named)) is not source:
            raise _incorrect_key(named)
        if action == "Decrypt":
            return [on_key("kms:Decrypt", source)]
        destination = find_key(region, params.get("DestinationKeyId"))
        if destination is None:
            raise kms_refusal("ValidationException", "ReEncrypt needs a DestinationKeyId.")
        return [on_key("kms:ReEncryptFrom", source), on_key("kms:ReEncryptTo", destination)]
    if action in ALIAS_ACTIONS:
        return _alias_checks(subject, request, context, on_key)
    if action == "RetireGrant" and _may_retire(subject, region, params):
        return []
    key = find_key(region, params.get("KeyId")) or find_key(region, params.get("TargetKeyId"))
    if key is not None:
        return [on_key(f"kms:{action}", key)]
    if action in KMS_KEYLESS or (action == "RetireGrant" and not params.get("KeyId")):
        return [Check(f"kms:{action}", "*", None, context)]
    raise kms_refusal("ValidationException", f"{action} needs the KeyId of a key of this account.")


def _alias_checks(
    subject: Subject, request: ApiRequest, context: Mapping[str, Any], on_key: Any
) -> list[Check]:
    """AWS "Controlling access to aliases": the alias (IAM policy) and every key it is on."""
    params, region, action = request.params, request.region, request.action
    name = params.get("AliasName")
    if not isinstance(name, str) or not name.startswith("alias/") or name == "alias/":
        raise kms_refusal("ValidationException", "AliasName must be an alias name: alias/<name>.")
    if is_reserved_alias(name):
        raise kms_refusal(
            "NotAuthorizedException",
            f"Alias names beginning with {RESERVED_ALIAS_PREFIX} are reserved for AWS managed "
            "keys: nobody creates, updates or deletes them.",
        )
    arn = alias_arn(ACCOUNT_ID, name, region)
    found = [Check(f"kms:{action}", arn, None, context)]
    if action != "CreateAlias":
        current = find_key(region, name)
        if current is None:
            raise kms_refusal("NotFoundException", f"Alias {arn} is not found.")
        found.append(on_key(f"kms:{action}", current))
    if action != "DeleteAlias":
        target = find_key(region, params.get("TargetKeyId"))
        if target is None:
            raise kms_refusal("ValidationException", f"{action} needs a TargetKeyId.")
        found.append(on_key(f"kms:{action}", target))
    return found


def resolve(request: ApiRequest, subject: Subject) -> dict[str, Any] | None:
    """Key parameters as moto's key ids."""
    if request.protocol != "json":
        return None
    params, refusal = identifiers.canonical_kms(request)
    if refusal is not None:
        raise Refused(refusal)
    return params


def lockout(subject: Subject, request: ApiRequest) -> Check | None:
    """CreateKey / PutKeyPolicy: the new policy must keep the caller able to change it."""
    if request.action not in ("CreateKey", "PutKeyPolicy"):
        return None
    policy = request.params.get("Policy")
    if not isinstance(policy, str) or request.params.get("BypassPolicyLockoutSafetyCheck"):
        return None
    if request.action == "PutKeyPolicy":
        key = find_key(request.region, request.params.get("KeyId"))
        resource = key.arn if key is not None else "*"
    else:
        resource = key_arn(ACCOUNT_ID, str(uuid.uuid4()), request.region)
    context = {**base_context(subject, request), "kms:CallerAccount": ACCOUNT_ID}
    return Check("kms:PutKeyPolicy", resource, policy, context)


def validate(
    host: Host, subject: Subject, request: ApiRequest, lockout: Check | None
) -> ErrorResponse | None:
    return (
        _validate_new_key_policy(host, subject, request, lockout)
        or _validate_grant(host, request)
        or host.rotation.refuse(request)
    )


def _validate_new_key_policy(
    host: Host, subject: Subject, request: ApiRequest, lockout: Check | None
) -> ErrorResponse | None:
    """CreateKey / PutKeyPolicy: AWS validates the document and applies the lockout check."""
    if request.action not in ("CreateKey", "PutKeyPolicy"):
        return None
    policy = request.params.get("Policy")
    if policy is None:
        return None  # CreateKey without a policy gets the default (root) policy
    if not isinstance(policy, str):
        return errors.malformed_policy("The key policy must be a JSON string.")
    try:
        host.engine.validate_key_policy(policy)
    except PolicyInvalid as exc:
        return errors.malformed_policy(exc.message)
    if lockout is not None and not host.decide(subject, lockout).allowed:
        return errors.malformed_policy(LOCKOUT_MESSAGE)
    return None


def _validate_grant(host: Host, request: ApiRequest) -> ErrorResponse | None:
    """CreateGrant: AWS refuses unknown operations and malformed constraints up front."""
    if request.action != "CreateGrant":
        return None
    try:
        host.engine.validate_grant(request.params)
    except PolicyInvalid as exc:
        return errors.json_error("kms", "ValidationException", exc.message)
    return None


def after(host: Host, request: ApiRequest, chunks: list[bytes]) -> bytes:
    """Rotation periods, which moto ignores, remembered and shown."""
    return host.rotation.after(request, b"".join(chunks))


SERVICE = Service(
    "kms", resolve=resolve, checks=checks, lockout=lockout, validate=validate, after=after
)
