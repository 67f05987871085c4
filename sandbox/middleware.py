"""WSGI middleware: bound the body, verify SigV4, authorize with kmsguard.access, then call moto."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from kmsguard.access.subject import Subject
from sandbox import canonical, errors, limits, principals, served, services, sigv4, validation
from sandbox.check import Check, is_root
from sandbox.engine import Engine, Verdict
from sandbox.errors import ErrorResponse
from sandbox.keys import KMS_CRYPTO_ACTIONS
from sandbox.kms_rotation import RotationPeriods
from sandbox.settings import SERVICES
from sandbox.wire import ApiRequest, parse_request, signing_service

log = logging.getLogger("sandbox")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# A refused oversized body is read and dropped up to this much, so the client can read the
# refusal instead of a reset connection; past it the connection is simply closed.
DRAIN_BYTES = 1024 * 1024 * 1024
_UNUSABLE_STATES = {
    "Disabled": ("DisabledException", "{arn} is disabled."),
    "PendingDeletion": ("KMSInvalidStateException", "{arn} is pending deletion."),
    "PendingReplicaDeletion": ("KMSInvalidStateException", "{arn} is pending deletion."),
    "PendingImport": ("KMSInvalidStateException", "{arn} is pending import."),
    "Unavailable": ("KMSInvalidStateException", "{arn} is unavailable."),
}


class StateHook(Protocol):
    """Told about every request moto carried out, while moto's state is still locked."""

    def after(self, request: ApiRequest, status: int) -> None: ...


@dataclass
class _Plan:
    """Everything read from moto's state that authorizing one request needs."""

    checks: list[Check] = field(default_factory=list)
    lockout: Check | None = None
    params: dict[str, Any] | None = None
    refusal: ErrorResponse | None = None


class AuthorizingApp:
    """Wraps moto's WSGI application; every request is authenticated and authorized first.

    What differs between services is in their hooks (sandbox.services); the order they are
    called in and every decision are here. moto's in-memory backends are not safe for
    concurrent use, so reading what a decision needs and the wrapped call each hold one lock
    briefly; signature checks and policy evaluation run outside it, so one slow decision never
    holds up other requests.
    """

    def __init__(
        self, app: WsgiApp, engine: Engine, region: str, state: StateHook | None = None
    ) -> None:
        self._app = app
        self._engine = engine
        self._region = region
        self._state = state
        self._lock = threading.Lock()
        self._rotation = RotationPeriods()

    @property
    def rotation(self) -> RotationPeriods:
        """What the layer remembers beside moto (persisted with it)."""
        return self._rotation

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def lock(self) -> AbstractContextManager[bool]:
        """Held while moto's state is read or changed."""
        return self._lock

    def keep_state(self, state: StateHook) -> None:
        self._state = state

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            return _send(errors.forbidden_path(), start_response)
        signed = sigv4.capture(environ)
        service = signing_service(environ)
        limit = limits.request_limit(service)
        length = limits.declared_length(environ)
        if length is None and not environ.get("wsgi.input_terminated"):
            length = 0  # neither a length nor chunked: no body (reading would wait for EOF)
        stream = environ["wsgi.input"]
        body = (
            None
            if length is not None and length > limit
            else limits.read_bounded(stream, length, limit)
        )
        if body is None:
            if length is not None:  # a chunked body may never end: close instead
                limits.discard(stream, length, DRAIN_BYTES)
            request = parse_request({**environ, "CONTENT_LENGTH": "0"}, b"", self._region)
            log.debug("refused %s:%s: body over %d bytes", service, request.action, limit)
            return _send(limits.too_large(request, limit), start_response, close=True)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        request, refusal = self._authenticate_and_authorize(
            parse_request(environ, body, self._region), signed, body, environ
        )
        if refusal is not None:
            return _send(refusal, start_response)
        return self._forward(request, environ, start_response)

    # ------------------------------------------------------------ authentication

    def _authenticate_and_authorize(
        self, request: ApiRequest, signed: sigv4.SignedRequest, body: bytes, environ: dict[str, Any]
    ) -> tuple[ApiRequest, ErrorResponse | None]:
        """The request as moto will see it (identifiers rewritten), or why it is refused."""
        if request.access_key_id is None:
            log.debug("refused %s:%s: unsigned request", request.service, request.action)
            return request, errors.missing_token(request)
        if request.service not in SERVICES:
            return request, errors.unknown_service(request, SERVICES)
        with self._lock:
            caller = principals.resolve(request.access_key_id)
        if caller is None:
            log.debug("refused %s:%s: unknown access key", request.service, request.action)
            return request, errors.unrecognized_client(request)
        # Authenticated first: a forged or stale request costs one signature check, never a
        # read of the resources and policies the request names.
        try:
            sigv4.verify(signed, body, secret_access_key=caller.secret_access_key)
        except sigv4.SignatureError as exc:
            log.debug("refused %s:%s: %s", request.service, request.action, exc.message)
            return request, errors.bad_signature(request, exc.message, incomplete=exc.incomplete)
        if environ.get("HTTP_X_AMZ_SECURITY_TOKEN") != caller.session_token:
            return request, errors.unrecognized_client(request)
        if caller.expired:
            log.debug("refused %s:%s: expired session token", request.service, request.action)
            return request, errors.expired_token(request)
        try:
            # From here on, one reading: the authorizer and moto see these parameters only.
            request = canonical.read(request, environ, body)
        except canonical.Refused as exc:
            log.debug("refused %s:%s: %s", request.service, request.action, exc.response.message)
            return request, exc.response
        service = services.of(request.service)
        if not (served.is_served(request.service, request.action) or service.serves(request)):
            return request, errors.unknown_operation(request)
        # Bounded before anything reads the parameters' content (PartiQL parsing included).
        too_long = validation.refuse(request)
        if too_long is not None:
            return request, too_long
        subject = caller.subject
        with self._lock:
            plan = self._plan(service, subject, request)
        if plan.refusal is not None:
            return request, plan.refusal
        if plan.params is not None:
            request = replace(request, params=plan.params)
        refusal = (
            limits.oversized_item(request)
            or limits.oversized_key_policy(request)
            or self._authorize(service, subject, request, plan)
        )
        return request, refusal

    def _plan(self, service: services.Service, subject: Subject, request: ApiRequest) -> _Plan:
        """Under the lock: every check the authenticated request must pass, made on the
        parameters moto will run (identifiers resolved), or the refusal."""
        try:
            params = service.resolve(request, subject)
            if params is not None:
                request = replace(request, params=params)
            checks = service.checks(subject, request)
        except canonical.Refused as exc:
            return _Plan(refusal=exc.response)
        return _Plan(checks, service.lockout(subject, request), params)

    # ------------------------------------------------------------ authorization

    def _authorize(
        self, service: services.Service, subject: Subject, request: ApiRequest, plan: _Plan
    ) -> ErrorResponse | None:
        for check in plan.checks:
            if (
                is_root(subject)
                and not check.action.startswith("kms:")
                and check.policy_kind != "trust"
                and check.resource_policy is None
            ):
                # The account root needs nothing but key, trust and table policies (whose Deny
                # binds it too); still logged.
                log.debug(
                    "%s %s on %s -> allow (account root: only key policies apply to it)",
                    subject.arn,
                    check.action,
                    check.resource,
                )
                continue
            refusal = self._check(subject, request, check)
            if refusal is not None:
                return refusal
        return service.validate(self, subject, request, plan.lockout)

    def decide(self, subject: Subject, check: Check) -> Verdict:
        trust = check.policy_kind == "trust"
        verdict = self._engine.decide(
            subject,
            check.action,
            check.resource,
            resource_policy=check.resource_policy,
            context=check.context,
            grants=check.grants,
        )
        if trust and check.resource_policy is None and verdict.allowed:
            # No such role (or not a role ARN at all): AWS answers as for a role it may not assume.
            message = (
                f"User: {subject.arn} is not authorized to perform: {check.action} "
                f"on resource: {check.resource}"
            )
            verdict = Verdict(False, "implicit_deny", "no such role", message)
        log.debug(
            "%s %s on %s%s -> %s (%s)",
            subject.arn,
            check.action,
            check.resource,
            f" via {check.via_table}" if check.via_table else "",
            verdict.effect,
            verdict.reason,
        )
        return verdict

    def _check(self, subject: Subject, request: ApiRequest, check: Check) -> ErrorResponse | None:
        verdict = self.decide(subject, check)
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

    # ------------------------------------------------------------ forwarding

    def _forward(
        self, request: ApiRequest, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> list[bytes]:
        service = services.of(request.service)
        with self._lock:
            answer = service.answer(request)
            if isinstance(answer, tuple) and self._state is not None:
                self._state.after(request, answer[0])
        if isinstance(answer, ErrorResponse):
            return _send(answer, start_response)
        if answer is not None:
            headers = [("Content-Type", "text/xml"), ("Content-Length", str(len(answer[1])))]
            start_response("200 OK", headers)
            return [answer[1]]
        with self._lock, service.confine(request):
            try:
                status, headers, chunks = self._call_moto(canonical.moto_environ(environ, request))
            except Exception as exc:  # moto's handlers assume well-formed input
                log.debug("moto failed on %s:%s: %r", request.service, request.action, exc)
                refusal = errors.unprocessable(
                    request, f"The request could not be processed: {type(exc).__name__}."
                )
                return _send(refusal, start_response)
            code = _status_code(status)
            if code >= 500:
                # An emulator failure on odd input is the client's problem to fix, never a 5xx.
                refusal = errors.unprocessable(
                    request, f"The request could not be processed (emulator status {code})."
                )
                return _send(refusal, start_response)
            if code < 300:
                body = service.after(self, request, chunks)
                if body is not None:
                    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                    headers.append(("Content-Length", str(len(body))))
                    chunks = [body]
            if self._state is not None:
                self._state.after(request, code)
        start_response(status, headers)
        return chunks

    def _call_moto(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], list[bytes]]:
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
        return str(captured["status"]), list(captured["headers"]), chunks


def _status_code(status: str) -> int:
    head = status.split(" ", 1)[0]
    return int(head) if head.isdigit() else 500


def _send(
    response: ErrorResponse, start_response: Callable[..., Any], *, close: bool = False
) -> list[bytes]:
    headers = [*response.headers, ("Content-Length", str(len(response.body)))]
    if close:
        headers.append(("Connection", "close"))
    start_response(response.status_line, headers)
    return [response.body]
