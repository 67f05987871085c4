"""Who is calling: access key id to principal ARN and identity policies, read from moto's state."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from moto.iam.models import iam_backends
from moto.sts.models import sts_backends

from kmsguard.contract import account_root_arn
from sandbox.settings import ACCOUNT_ID, ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY

# The account root is not subject to identity policies: give it one that allows everything,
# so that only resource policies (a key policy without the root statement) can refuse it.
ROOT_POLICY: str = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)

Kind = Literal["root", "user", "assumed-role"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    arn: str
    kind: Kind
    account_id: str
    identity_policies: tuple[str, ...]
    # For an assumed-role session: the role ARN (key policies name roles, not sessions).
    role_arn: str | None = None
    expired: bool = False
    # What the request must be signed with; never shown (repr) or compared.
    secret_access_key: str = field(default="", repr=False, compare=False)
    # An assumed-role session's credentials are valid only with their session token.
    session_token: str | None = field(default=None, repr=False, compare=False)
    # The user's or role's permissions boundary document, when it has one.
    boundary: str | None = None
    # A session's policies (AssumeRole's Policy and PolicyArns): they cap the role's policies.
    session_policies: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return self.kind == "root"


def _document(doc: Any) -> str:
    return doc if isinstance(doc, str) else json.dumps(doc)


def _managed_document(policy: Any) -> str | None:
    for version in getattr(policy, "versions", []):
        if getattr(version, "is_default", False):
            return _document(version.document)
    return None


def _policies_of(entity: Any) -> list[str]:
    docs = [_document(doc) for doc in getattr(entity, "policies", {}).values()]
    for managed in getattr(entity, "managed_policies", {}).values():
        doc = _managed_document(managed)
        if doc is not None:
            docs.append(doc)
    return docs


def _iam() -> Any:
    return iam_backends[ACCOUNT_ID]["aws"]


def remember_policy_arns(access_key_id: str, arns: list[str]) -> None:
    """AssumeRole's PolicyArns, kept on moto's session object (moto keeps only `Policy`)."""
    session = sts_backends[ACCOUNT_ID]["aws"].get_assumed_role_from_access_key(access_key_id)
    if session is not None:
        setattr(session, "policy_arns", tuple(arns))  # noqa: B010 - not a moto attribute


def managed_policy_exists(arn: str) -> bool:
    return arn in _iam().managed_policies


def _managed_by_arn(arn: str | None) -> str | None:
    if not arn:
        return None
    policy = _iam().managed_policies.get(arn)
    if policy is None:
        # A boundary or session policy that no longer exists allows nothing.
        return json.dumps({"Version": "2012-10-17", "Statement": []})
    return _managed_document(policy)


def resolve(access_key_id: str) -> Principal | None:
    """Return the principal owning an access key, or None when the key is unknown or inactive.

    The principal carries the secret the request's signature is then verified with.
    """
    if access_key_id == ADMIN_ACCESS_KEY_ID:
        return Principal(
            account_root_arn(ACCOUNT_ID),
            "root",
            ACCOUNT_ID,
            (ROOT_POLICY,),
            secret_access_key=ADMIN_SECRET_ACCESS_KEY,
        )
    iam = _iam()
    key = iam.access_keys.get(access_key_id)
    if key is None or key.status != "Active":
        return None
    if key.user_name is not None:
        user = iam.users.get(key.user_name)
        if user is None or key not in user.access_keys:
            return None
        docs = _policies_of(user)
        for group in iam.groups.values():
            if user in group.users:
                docs.extend(_policies_of(group))
        return Principal(
            user.arn,
            "user",
            ACCOUNT_ID,
            tuple(docs),
            secret_access_key=key.secret_access_key,
            boundary=_managed_by_arn(getattr(user, "permissions_boundary_arn", None)),
        )
    if key.role_arn is not None:
        return _assumed_role(access_key_id, key.role_arn)
    return None


def _assumed_role(access_key_id: str, role_arn: str) -> Principal | None:
    from moto.core.utils import utcnow

    session = sts_backends[ACCOUNT_ID]["aws"].get_assumed_role_from_access_key(access_key_id)
    if session is None:
        return None
    docs: list[str] = []
    boundary = None
    try:
        role = _iam().get_role_by_arn(role_arn)
        docs = _policies_of(role)
        boundary = _managed_by_arn(getattr(role, "permissions_boundary_arn", None))
    except Exception:  # moto raises its own NotFound type; a deleted role has no policies
        docs = []
    sessions = [_document(session.policy)] if getattr(session, "policy", None) else []
    policy_arns = getattr(session, "policy_arns", ())
    for arn in policy_arns:
        doc = _managed_by_arn(arn)
        if doc is not None:
            sessions.append(doc)
    if getattr(session, "policy", None) is not None or policy_arns:
        # Session policies were passed: even an empty set caps the role's permissions.
        sessions = sessions or [json.dumps({"Version": "2012-10-17", "Statement": []})]
    return Principal(
        session.arn,
        "assumed-role",
        ACCOUNT_ID,
        tuple(docs),
        role_arn=role_arn,
        expired=session.expiration < utcnow(),
        secret_access_key=session.secret_access_key,
        session_token=session.session_token,
        boundary=boundary,
        session_policies=tuple(sessions),
    )
