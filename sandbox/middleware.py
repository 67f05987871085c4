"""WSGI middleware: bound the body, verify SigV4, authorize with kmsguard.access, then call moto."""

from __future__ import annotations

import io
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sandbox import (
    canonical,
    data_paths,
    errors,
    identifiers,
    keys,
    limits,
    partiql,
    principals,
    resources,
    served,
    sigv4,
    streams,
    table_grants,
    user_boundaries,
    validation,
)
from sandbox.check import Check, base_context
from sandbox.engine import Engine, PolicyInvalid, Verdict
from sandbox.errors import ErrorResponse
from sandbox.kms_rotation import RotationPeriods
from sandbox.principals import Principal
from sandbox.settings import ACCOUNT_ID, SERVICES
from sandbox.wire import ApiRequest, parse_request, signing_service

log = logging.getLogger("sandbox")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

LOCKOUT_MESSAGE = "The new key policy will not allow you to update the key policy in the future."
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

    moto's in-memory backends are not safe for concurrent use, so reading what a decision
    needs and the wrapped call each hold one lock briefly; signature checks and policy
    evaluation run outside it, so one slow decision never holds up other requests.
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
        self,
        request: ApiRequest,
        signed: sigv4.SignedRequest,
        body: bytes,
        environ: dict[str, Any],
    ) -> tuple[ApiRequest, ErrorResponse | None]:
        """The request as moto will see it (identifiers rewritten), or why it is refused."""
        if request.access_key_id is None:
            log.debug("refused %s:%s: unsigned request", request.service, request.action)
            return request, errors.missing_token(request)
        if request.service not in SERVICES:
            return request, errors.unknown_service(request, SERVICES)
        with self._lock:
            principal = principals.resolve(request.access_key_id)
        if principal is None:
            log.debug("refused %s:%s: unknown access key", request.service, request.action)
            return request, errors.unrecognized_client(request)
        # Authenticated first: a forged or stale request costs one signature check, never a
        # read of the resources and policies the request names.
        try:
            sigv4.verify(signed, body, secret_access_key=principal.secret_access_key)
        except sigv4.SignatureError as exc:
            log.debug("refused %s:%s: %s", request.service, request.action, exc.message)
            return request, errors.bad_signature(request, exc.message, incomplete=exc.incomplete)
        if environ.get("HTTP_X_AMZ_SECURITY_TOKEN") != principal.session_token:
            return request, errors.unrecognized_client(request)
        if principal.expired:
            log.debug("refused %s:%s: expired session token", request.service, request.action)
            return request, errors.expired_token(request)
        try:
            # From here on, one reading: the authorizer and moto see these parameters only.
            request = canonical.read(request, environ, body)
        except canonical.Refused as exc:
            log.debug("refused %s:%s: %s", request.service, request.action, exc.response.message)
            return request, exc.response
        if not (
            served.is_served(request.service, request.action) or user_boundaries.handles(request)
        ):
            return request, errors.unknown_operation(request)
        # Bounded before anything reads the parameters' content (PartiQL parsing included).
        too_long = validation.refuse(request)
        if too_long is not None:
            return request, too_long
        with self._lock:
            plan = self._plan(principal, request)
        if plan.refusal is not None:
            return request, plan.refusal
        if plan.params is not None:
            request = replace(request, params=plan.params)
        refusal = (
            limits.oversized_item(request)
            or limits.oversized_key_policy(request)
            or self._authorize(principal, request, plan)
        )
        return request, refusal

    def _plan(self, principal: Principal, request: ApiRequest) -> _Plan:
        """Under the lock: every check the authenticated request must pass, made on the
        parameters moto will run (identifiers resolved), or the refusal."""
        params, refusal = identifiers.canonical(request)
        if refusal is not None:
            return _Plan(refusal=refusal)
        try:
            if request.service == "iam":
                params = identifiers.canonical_iam(request, principal)
            if params is not None:
                request = replace(request, params=params)
            on_stream = request.service == streams.SERVICE
            checks = (streams.checks if on_stream else resources.checks_for)(principal, request)
            checks.extend(data_paths.checks(principal, request))
        except canonical.Refused as exc:
            return _Plan(refusal=exc.response)
        return _Plan(checks, self._lockout_check(principal, request), params)

    # ------------------------------------------------------------ authorization

    def _authorize(
        self, principal: Principal, request: ApiRequest, plan: _Plan
    ) -> ErrorResponse | None:
        for check in plan.checks:
            if (
                principal.is_admin
                and not check.action.startswith("kms:")
                and check.policy_kind != "trust"
                and check.resource_policy is None
            ):
                # The account root needs nothing but key, trust and table policies (whose Deny
                # binds it too); still logged.
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
            return (
                self._validate_new_key_policy(principal, request, plan.lockout)
                or self._validate_grant(request)
                or self._rotation.refuse(request)
            )
        if request.service == "sts" and request.action == "AssumeRole":
            return self._validate_session_policies(request)
        if request.service == "dynamodb":
            return self._validate_table_policy(request)
        return None

    def _validate_table_policy(self, request: ApiRequest) -> ErrorResponse | None:
        """A table's policy must be one the authorizer reads: a Deny it could not read would
        otherwise be silently ignored."""
        if request.action == "CreateTable" and "ResourcePolicy" in request.params:
            message = (
                "ResourcePolicy at CreateTable is not served by the sandbox: create the table, "
                "then attach its policy with PutResourcePolicy."
            )
            return errors.json_error("dynamodb", "ValidationException", message)
        if request.action != "PutResourcePolicy":
            return None
        policy = request.params.get("Policy")
        if not isinstance(policy, str):
            return errors.json_error(
                "dynamodb", "ValidationException", "Policy must be a policy document (a string)."
            )
        try:
            self._engine.validate_resource_policy(policy)
        except PolicyInvalid as exc:
            return errors.json_error(
                "dynamodb", "ValidationException", f"Invalid policy document: {exc.message}"
            )
        return None

    def _validate_grant(self, request: ApiRequest) -> ErrorResponse | None:
        """CreateGrant: AWS refuses unknown operations and malformed constraints up front."""
        if request.action != "CreateGrant":
            return None
        try:
            self._engine.validate_grant(request.params)
        except PolicyInvalid as exc:
            return errors.json_error("kms", "ValidationException", exc.message)
        return None

    def _validate_session_policies(self, request: ApiRequest) -> ErrorResponse | None:
        """AssumeRole's Policy must be a valid policy; its PolicyArns must exist."""
        policy = request.params.get("Policy")
        if isinstance(policy, str):
            try:
                self._engine.validate_identity_policy(policy)
            except PolicyInvalid as exc:
                return errors.query_error(
                    "sts", "MalformedPolicyDocument", f"Policy: {exc.message}", status=400
                )
        for arn in _policy_arns(request.params):
            with self._lock:
                known = principals.managed_policy_exists(arn)
            if not known:
                return errors.query_error(
                    "sts", "InvalidParameterValue", f"PolicyArns: no policy {arn}", status=400
                )
        return None

    def _decide(self, principal: Principal, check: Check) -> Verdict:
        trust = check.policy_kind == "trust"
        verdict = self._engine.decide(
            principal.arn,
            check.action,
            check.resource,
            identity_policies=principal.identity_policies,
            resource_policy=check.resource_policy,
            context=check.context,
            permissions_boundary=principal.boundary,
            session_policies=principal.session_policies,
            grants=check.grants,
        )
        if trust and check.resource_policy is None and verdict.allowed:
            # No such role (or not a role ARN at all): AWS answers as for a role it may not assume.
            message = (
                f"User: {principal.arn} is not authorized to perform: {check.action} "
                f"on resource: {check.resource}"
            )
            verdict = Verdict(False, "implicit_deny", "no such role", message)
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
        if check.action in keys.KMS_CRYPTO_ACTIONS and check.key_state in _UNUSABLE_STATES:
            code, text = _UNUSABLE_STATES[check.key_state]
            return errors.json_error("kms", code, text.format(arn=check.resource))
        return None

    def _lockout_check(self, principal: Principal, request: ApiRequest) -> Check | None:
        """CreateKey / PutKeyPolicy: the new policy must keep the caller able to change it."""
        if request.service != "kms" or request.action not in ("CreateKey", "PutKeyPolicy"):
            return None
        policy = request.params.get("Policy")
        if not isinstance(policy, str) or request.params.get("BypassPolicyLockoutSafetyCheck"):
            return None
        if request.action == "PutKeyPolicy":
            key = keys.find_key(request.region, request.params.get("KeyId"))
            key_arn = key.arn if key is not None else "*"
        else:
            key_arn = f"arn:aws:kms:{request.region}:{ACCOUNT_ID}:key/{uuid.uuid4()}"
        context = {**base_context(principal, request), "kms:CallerAccount": ACCOUNT_ID}
        return Check("kms:PutKeyPolicy", key_arn, policy, context)

    def _validate_new_key_policy(
        self, principal: Principal, request: ApiRequest, lockout: Check | None
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
        if lockout is not None and not self._decide(principal, lockout).allowed:
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
        if user_boundaries.handles(request):
            with self._lock:
                done = user_boundaries.apply(request)
                if not isinstance(done, ErrorResponse) and self._state is not None:
                    self._state.after(request, done[0])
            if isinstance(done, ErrorResponse):
                return _send(done, start_response)
            start_response(
                "200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(done[1])))]
            )
            return [done[1]]
        with self._lock, partiql.confined(*resources.partiql_scope(request)):
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
                data_paths.after(request)
                table_grants.after(request)
                user_boundaries.after(request)
                if request.service == "sts" and request.action == "AssumeRole":
                    _remember_policy_arns(request, b"".join(chunks))
                if request.service in ("kms", "iam"):
                    body = b"".join(chunks)
                    body = (
                        self._rotation.after(request, body)
                        if request.service == "kms"
                        else user_boundaries.shown(request, body)
                    )
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
