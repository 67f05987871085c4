"""Who is calling: an access key's subject (ARN and policies) and credentials, from moto's state."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from moto.iam.models import iam_backends
from moto.sts.models import sts_backends

from kmsguard.access.subject import PolicySource, Subject
from kmsguard.contract import account_root_arn
from sandbox.settings import ACCOUNT_ID, ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY

# What a policy that no longer exists, or an empty set of session policies, allows.
_NOTHING: str = json.dumps({"Version": "2012-10-17", "Statement": []})
# The account root is not subject to identity policies: give it one that allows everything,
# so that only resource policies (a key policy without the root statement) can refuse it.
ROOT_POLICY: str = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the subject IAM authorizes, and what authenticates its requests."""

    subject: Subject
    expired: bool = False
    # What the request must be signed with; never shown (repr) or compared.
    secret_access_key: str = field(default="", repr=False, compare=False)
    # An assumed-role session's credentials are valid only with their session token.
    session_token: str | None = field(default=None, repr=False, compare=False)


def _document(doc: Any) -> str:
    return doc if isinstance(doc, str) else json.dumps(doc)


def _managed_document(policy: Any) -> str | None:
    for version in getattr(policy, "versions", []):
        if getattr(version, "is_default", False):
            return _document(version.document)
    return None


def _policies_of(entity: Any, where: str = "") -> list[PolicySource]:
    found = [
        PolicySource(f"inline policy {name}{where}", _document(doc))
        for name, doc in getattr(entity, "policies", {}).items()
    ]
    for arn, managed in getattr(entity, "managed_policies", {}).items():
        doc = _managed_document(managed)
        if doc is not None:
            found.append(PolicySource(f"managed policy {arn}{where}", doc))
    return found


def _iam() -> Any:
    return iam_backends[ACCOUNT_ID]["aws"]


def remember_policy_arns(access_key_id: str, arns: list[str]) -> None:
    """AssumeRole's PolicyArns, kept on moto's session object (moto keeps only `Policy`)."""
    session = sts_backends[ACCOUNT_ID]["aws"].get_assumed_role_from_access_key(access_key_id)
    if session is not None:
        setattr(session, "policy_arns", tuple(arns))  # noqa: B010 - not a moto attribute


def managed_policy_exists(arn: str) -> bool:
    return arn in _iam().managed_policies


def _managed_by_arn(arn: str | None, origin: str) -> PolicySource | None:
    if not arn:
        return None
    policy = _iam().managed_policies.get(arn)
    if policy is None:
        # A boundary or session policy that no longer exists allows nothing.
        return PolicySource(f"{origin} {arn}", _NOTHING)
    doc = _managed_document(policy)
    return None if doc is None else PolicySource(f"{origin} {arn}", doc)


def resolve(access_key_id: str) -> Caller | None:
    """Return the caller owning an access key, or None when the key is unknown or inactive.

    The caller carries the secret the request's signature is then verified with.
    """
    if access_key_id == ADMIN_ACCESS_KEY_ID:
        root = PolicySource("the account root", ROOT_POLICY)
        subject = Subject(account_root_arn(ACCOUNT_ID), "root", (root,))
        return Caller(subject, secret_access_key=ADMIN_SECRET_ACCESS_KEY)
    iam = _iam()
    key = iam.access_keys.get(access_key_id)
    if key is None or key.status != "Active":
        return None
    if key.user_name is not None:
        user = iam.users.get(key.user_name)
        if user is None or key not in user.access_keys:
            return None
        docs = _policies_of(user)
        groups: list[str] = []
        for group in iam.groups.values():
            if user in group.users:
                docs.extend(_policies_of(group, f" of group {group.name}"))
                groups.append(group.arn)
        boundary_arn = getattr(user, "permissions_boundary_arn", None)
        subject = Subject(
            user.arn,
            "user",
            tuple(docs),
            boundary=_managed_by_arn(boundary_arn, "permissions boundary"),
            groups=tuple(groups),
        )
        return Caller(subject, secret_access_key=key.secret_access_key)
    if key.role_arn is not None:
        return _assumed_role(access_key_id, key.role_arn)
    return None


def _assumed_role(access_key_id: str, role_arn: str) -> Caller | None:
    from moto.core.utils import utcnow

    session = sts_backends[ACCOUNT_ID]["aws"].get_assumed_role_from_access_key(access_key_id)
    if session is None:
        return None
    docs: list[PolicySource] = []
    boundary = None
    try:
        role = _iam().get_role_by_arn(role_arn)
        docs = _policies_of(role)
        boundary_arn = getattr(role, "permissions_boundary_arn", None)
        boundary = _managed_by_arn(boundary_arn, "permissions boundary")
    except Exception:  # moto raises its own NotFound type; a deleted role has no policies
        docs = []
    inline = getattr(session, "policy", None)
    sessions = [PolicySource("session policy", _document(inline))] if inline else []
    policy_arns = getattr(session, "policy_arns", ())
    for arn in policy_arns:
        found = _managed_by_arn(arn, "session policy")
        if found is not None:
            sessions.append(found)
    if inline is not None or policy_arns:
        # Session policies were passed: even an empty set caps the role's permissions.
        sessions = sessions or [PolicySource("session policy", _NOTHING)]
    subject = Subject(
        session.arn,
        "assumed-role",
        tuple(docs),
        boundary=boundary,
        role_arn=role_arn,
        session_policies=tuple(sessions),
    )
    return Caller(
        subject,
        expired=session.expiration < utcnow(),
        secret_access_key=session.secret_access_key,
        session_token=session.session_token,
    )
