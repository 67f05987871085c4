"""WSGI middleware: authenticate by access key, authorize with kmsguard.access, then call moto."""

from __future__ import annotations

import io
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from sandbox import errors, principals, resources
from sandbox.engine import Engine, PolicyInvalid, Verdict
from sandbox.errors import ErrorResponse
from sandbox.kms_rotation import RotationPeriods
from sandbox.principals import Principal
from sandbox.resources import KMS_CRYPTO_ACTIONS, Check
from sandbox.settings import ACCOUNT_ID
from sandbox.wire import ApiRequest, parse_request, read_body

log = logging.getLogger("sandbox")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

LOCKOUT_MESSAGE = "The new key policy will not allow you to update the key policy in the future."
_UNUSABLE_STATES = {
    "Disabled": ("DisabledException", "{arn} is disabled."),
    "PendingDeletion": ("KMSInvalidStateException", "{arn} is pending deletion."),
    "PendingReplicaDeletion": ("KMSInvalidStateException", "{arn} is pending deletion."),
    "PendingImport": ("KMSInvalidStateException", "{arn} is pending import."),
    "Unavailable": ("KMSInvalidStateException", "{arn} is unavailable."),
}


class AuthorizingApp:
    """Wraps moto's WSGI application; every request is authenticated and authorized first.

    moto's in-memory backends are not safe for concurrent mutation, so authorization (which
    reads them) and the wrapped call run under one lock; the HTTP server stays threaded.
    """

    def __init__(self, app: WsgiApp, engine: Engine, region: str) -> None:
        self._app = app
        self._engine = engine
        self._region = region
        self._lock = threading.RLock()
        self._rotation = RotationPeriods()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            return _send(errors.forbidden_path(), start_response)
        body = read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        request = parse_request(environ, body, self._region)
        with self._lock:
            refusal = self._authorize(request)
            if refusal is not None:
                return _send(refusal, start_response)
            return self._forward(request, environ, start_response)

    # ------------------------------------------------------------ authorization

    def _authorize(self, request: ApiRequest) -> ErrorResponse | None:
        if request.access_key_id is None:
            log.debug("refused %s:%s: unsigned request", request.service, request.action)
            return errors.missing_token(request)
        principal = principals.resolve(request.access_key_id)
        if principal is None:
            log.debug("refused %s:%s: unknown access key", request.service, request.action)
            return errors.unrecognized_client(request)
        if principal.expired:
            log.debug("refused %s:%s: expired session token", request.service, request.action)
            return errors.expired_token(request)
        for check in resources.checks_for(principal, request):
            if principal.is_admin and not check.action.startswith("kms:"):
                # The account root needs nothing but key policies; still a decision to log.
                log.debug(
                    "%s %s on %s -> allow (account root: only key policies apply to it)",
                    principal.arn,
                    check.action,
                    check.resource,
                )
                continue
            refusal = self._check(principal, request, check)
            if refusal is not None:
                return refusal
        if request.service == "kms":
            return self._validate_new_key_policy(principal, request) or self._rotation.refuse(
                request
            )
        return None

    def _decide(self, principal: Principal, check: Check) -> Verdict:
        verdict = self._engine.decide(
            principal.arn,
            check.action,
            check.resource,
            identity_policies=principal.identity_policies,
            resource_policy=check.resource_policy,
            context=check.context,
        )
        log.debug(
            "%s %s on %s%s -> %s (%s)",
            principal.arn,
            check.action,
            check.resource,
            f" via {check.via_table}" if check.via_table else "",
            verdict.effect,
            verdict.reason,
        )
        return verdict

    def _check(
        self, principal: Principal, request: ApiRequest, check: Check
    ) -> ErrorResponse | None:
        verdict = self._decide(principal, check)
        if check.via_table is not None:
            if not verdict.allowed:
                message = (
                    f"KMS key access denied error: {verdict.message} "
                    "(Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)"
                )
                return errors.access_denied(request, message)
            if check.key_state in _UNUSABLE_STATES:
                code, text = _UNUSABLE_STATES[check.key_state]
                message = (
                    f"KMS key access denied error: {text.format(arn=check.resource)} "
                    f"(Service: AWSKMS; Status Code: 400; Error Code: {code})"
                )
                return errors.access_denied(request, message)
            return None
        if not verdict.allowed:
            return errors.access_denied(request, verdict.message)
        if check.action in KMS_CRYPTO_ACTIONS and check.key_state in _UNUSABLE_STATES:
            code, text = _UNUSABLE_STATES[check.key_state]
            return errors.json_error("kms", code, text.format(arn=check.resource))
        return None

    def _validate_new_key_policy(
        self, principal: Principal, request: ApiRequest
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
            self._engine.validate_key_policy(policy)
        except PolicyInvalid as exc:
            return errors.malformed_policy(exc.message)
        if request.params.get("BypassPolicyLockoutSafetyCheck") is True:
            return None
        if request.action == "PutKeyPolicy":
            key = resources.find_key(request.region, request.params.get("KeyId"))
            key_arn = key.arn if key is not None else "*"
        else:
            key_arn = f"arn:aws:kms:{request.region}:{ACCOUNT_ID}:key/{uuid.uuid4()}"
        context = {**resources.base_context(principal, request), "kms:CallerAccount": ACCOUNT_ID}
        check = Check("kms:PutKeyPolicy", key_arn, policy, context)
        if not self._decide(principal, check).allowed:
            return errors.malformed_policy(LOCKOUT_MESSAGE)
        return None

    # ------------------------------------------------------------ forwarding

    def _forward(
        self, request: ApiRequest, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> list[bytes]:
        if request.service == "sts" and request.action == "GetCallerIdentity":
            principal = principals.resolve(request.access_key_id or "")
            if principal is not None and principal.is_admin:
                return _caller_identity_of_root(principal, start_response)
        captured: dict[str, Any] = {}
        chunks: list[bytes] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return chunks.append

        result = self._app(environ, capture)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = captured["status"], captured["headers"]
        if request.service == "kms" and status.startswith("200"):
            body = self._rotation.after(request, b"".join(chunks))
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
            chunks = [body]
        start_response(status, headers)
        return chunks


def _send(response: ErrorResponse, start_response: Callable[..., Any]) -> list[bytes]:
    headers = [*response.headers, ("Content-Length", str(len(response.body)))]
    start_response(response.status_line, headers)
    return [response.body]


def _caller_identity_of_root(
    principal: Principal, start_response: Callable[..., Any]
) -> list[bytes]:
    # moto answers unknown keys with a made-up user; AWS answers the root's keys with the root.
    body = (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<GetCallerIdentityResult><Arn>{principal.arn}</Arn>"
        f"<UserId>{principal.account_id}</UserId><Account>{principal.account_id}</Account>"
        "</GetCallerIdentityResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    ).encode()
    start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
    return [body]
