"""STS: the role a session assumes, its session policies, and who the caller is."""

from __future__ import annotations

import json
import uuid
from typing import Any

from moto.iam.models import iam_backends

from kmsguard.access.subject import Subject
from sandbox import errors, principals
from sandbox.check import Check, base_context, is_root
from sandbox.engine import PolicyInvalid
from sandbox.errors import ErrorResponse
from sandbox.services.base import Host, Service
from sandbox.settings import ACCOUNT_ID
from sandbox.wire import ApiRequest


def checks(subject: Subject, request: ApiRequest) -> list[Check]:
    """AssumeRole on the role, under its trust policy; any other action on "*"."""
    action, params = request.action, request.params
    if action == "GetCallerIdentity":
        return []  # AWS lets every authenticated caller ask who it is
    context = base_context(subject, request)
    if action == "AssumeRole" and params.get("RoleArn"):
        role_arn = str(params["RoleArn"])
        trust = None
        for role in iam_backends[ACCOUNT_ID]["aws"].roles.values():
            if role.arn == role_arn:
                document = role.assume_role_policy_document
                trust = document if isinstance(document, str) else json.dumps(document)
        return [Check("sts:AssumeRole", role_arn, trust, context, policy_kind="trust")]
    return [Check(f"sts:{action}", "*", None, context)]


def validate(
    host: Host, subject: Subject, request: ApiRequest, lockout: Check | None
) -> ErrorResponse | None:
    """AssumeRole's Policy must be a valid policy; its PolicyArns must exist."""
    if request.action != "AssumeRole":
        return None
    policy = request.params.get("Policy")
    if isinstance(policy, str):
        try:
            host.engine.validate_identity_policy(policy)
        except PolicyInvalid as exc:
            return errors.query_error(
                "sts", "MalformedPolicyDocument", f"Policy: {exc.message}", status=400
            )
    for arn in _policy_arns(request.params):
        with host.lock:
            known = principals.managed_policy_exists(arn)
        if not known:
            return errors.query_error(
                "sts", "InvalidParameterValue", f"PolicyArns: no policy {arn}", status=400
            )
    return None


def _policy_arns(params: dict[str, Any]) -> list[str]:
    """AssumeRole's PolicyArns (query form: PolicyArns.member.N.arn)."""
    arns = [
        str(v)
        for k, v in sorted(params.items())
        if k.startswith("PolicyArns.member.") and k.endswith(".arn")
    ]
    listed = params.get("PolicyArns")
    if isinstance(listed, list):
        arns += [str(i.get("arn")) for i in listed if isinstance(i, dict) and i.get("arn")]
    return arns


def _remember_policy_arns(request: ApiRequest, body: bytes) -> None:
    arns = _policy_arns(request.params)
    if not arns:
        return
    text = body.decode("utf-8", "replace")
    start, end = text.find("<AccessKeyId>"), text.find("</AccessKeyId>")
    if start >= 0 and end > start:
        principals.remember_policy_arns(text[start + len("<AccessKeyId>") : end], arns)


def answer(request: ApiRequest) -> tuple[int, bytes] | None:
    """GetCallerIdentity of the root: moto answers unknown keys with a made-up user; AWS
    answers the root's keys with the root."""
    if request.action != "GetCallerIdentity":
        return None
    caller = principals.resolve(request.access_key_id or "")
    if caller is None or not is_root(caller.subject):
        return None
    arn, account = caller.subject.arn, caller.subject.account
    body = (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<GetCallerIdentityResult><Arn>{arn}</Arn>"
        f"<UserId>{account}</UserId><Account>{account}</Account>"
        "</GetCallerIdentityResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    ).encode()
    return 200, body


def after(host: Host, request: ApiRequest, chunks: list[bytes]) -> None:
    """A session's PolicyArns, remembered under the access key AssumeRole returned."""
    if request.action == "AssumeRole":
        _remember_policy_arns(request, b"".join(chunks))


SERVICE = Service("sts", checks=checks, validate=validate, answer=answer, after=after)
