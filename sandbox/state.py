"""--state-dir: moto's backends snapshotted after every change, atomically, and restored on start.

Format: `DIR/state.pickle`, one pickle of {"version", "account", "backends", "sandbox"}: the
account's DynamoDB and KMS backends of every region used, its STS backend, its IAM backend
without AWS's managed policies (moto loads those itself on start), and the sandbox's own state
(rotation periods). A snapshot is written to a temporary file, fsynced and renamed over the
previous one before the answer to the request that changed it is sent, so a kill -9 loses at
most the request in flight and never leaves a half-written snapshot. Why a snapshot and not a
journal of requests: replaying requests would mint new key ids, key material and access keys,
and every stack or client holding the old ones would point at nothing. The snapshot is a
pickle: load only directories this sandbox wrote (it is trusted local state, like a database
file).
"""

from __future__ import annotations

import copyreg
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.settings import ACCOUNT_ID
from sandbox.wire import ApiRequest

FILE_NAME = "state.pickle"
VERSION = 1
_AWS_MANAGED = "arn:aws:iam::aws:policy/"
# IAM attributes moto rebuilds on start: AWS's managed policies and a summary view of the backend.
_IAM_REBUILT = ("aws_managed_policies", "account_summary")
# Read-only operations: nothing to write after them. Everything else (including STS, whose
# calls mint credentials, and PartiQL, which may write) is saved.
_READS = ("Describe", "List", "Get", "Scan", "Query", "BatchGet", "TransactGet", "Encrypt",
          "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateRandom", "GenerateMac", "Sign",
          "Verify")  # fmt: skip


class StateError(Exception):
    """The state directory cannot be used; the message says why and what to do."""


def changes_state(request: ApiRequest) -> bool:
    if request.service == "sts":
        return request.action != "GetCallerIdentity"
    return not request.action.startswith(_READS)


def load_private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem, None)


def _register_key_pickling() -> None:
    # moto keeps asymmetric key material as `cryptography` objects, which do not pickle.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    def reduce(key: Any) -> tuple[Callable[..., Any], tuple[bytes]]:
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return load_private_key, (pem,)

    samples = (rsa.generate_private_key(65537, 1024), ec.generate_private_key(ec.SECP256R1()))
    for sample in samples:
        copyreg.pickle(type(sample), reduce)


def _backends() -> dict[str, Any]:
    from moto.dynamodb.models import dynamodb_backends
    from moto.iam.models import iam_backends
    from moto.kms.models import kms_backends
    from moto.sts.models import sts_backends

    return {
        "dynamodb": dynamodb_backends[ACCOUNT_ID],
        "kms": kms_backends[ACCOUNT_ID],
        "iam": iam_backends[ACCOUNT_ID],
        "sts": sts_backends[ACCOUNT_ID],
    }


def _capture(backend: Any, service: str) -> dict[str, Any]:
    state = dict(vars(backend))
    if service == "iam":
        for name in _IAM_REBUILT:
            state.pop(name, None)
        state["managed_policies"] = {
            arn: policy
            for arn, policy in state.get("managed_policies", {}).items()
            if not arn.startswith(_AWS_MANAGED)
        }
    return state


def _apply(backend: Any, service: str, state: dict[str, Any]) -> None:
    if service == "iam":
        managed = {
            arn: policy
            for arn, policy in vars(backend).get("managed_policies", {}).items()
            if arn.startswith(_AWS_MANAGED)
        }
        state = {**state, "managed_policies": {**managed, **state.get("managed_policies", {})}}
    vars(backend).update(state)


def _adopt_aws_managed_key(kms: Any, region: str) -> None:
    """A snapshot written before keys carried their managed-by: the key holding
    `alias/aws/dynamodb` (reserved, so only DynamoDB ever created it) is AWS managed."""
    from sandbox.keys import aws_managed_key_policy

    for key in kms.keys.values():
        if "alias/aws/dynamodb" in key.aliases and key.key_manager != "AWS":
            key.key_manager = "AWS"
            key.policy = aws_managed_key_policy(region)


class StateStore:
    """Saves and restores the sandbox's state in one directory."""

    def __init__(self, directory: Path, sandbox_state: Any) -> None:
        self.directory = directory
        self._sandbox_state = sandbox_state
        try:
            directory.mkdir(parents=True, exist_ok=True)
            probe = directory / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StateError(
                f"--state-dir {directory}: cannot write there ({exc.strerror})"
            ) from exc
        _register_key_pickling()

    @property
    def path(self) -> Path:
        return self.directory / FILE_NAME

    def restore(self) -> bool:
        """Load the last snapshot, if any; True when state was restored."""
        if not self.path.exists():
            return False
        try:
            with self.path.open("rb") as stream:
                data = pickle.load(stream)  # the sandbox's own local file
        except Exception as exc:
            raise StateError(
                f"--state-dir {self.directory}: {FILE_NAME} is unreadable "
                f"({type(exc).__name__}); move it away to start empty"
            ) from exc
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise StateError(
                f"--state-dir {self.directory}: {FILE_NAME} was written by another version "
                "of the sandbox; move it away to start empty"
            )
        if data.get("account") != ACCOUNT_ID:
            raise StateError(f"--state-dir {self.directory}: state of another account")
        live = _backends()
        for service, regions in data["backends"].items():
            for region, state in regions.items():
                _apply(live[service][region], service, state)
        for region in data["backends"].get("kms", {}):
            _adopt_aws_managed_key(live["kms"][region], region)
        self._sandbox_state.restore(data["sandbox"])
        return True

    def save(self) -> None:
        backends = {
            service: {region: _capture(backend, service) for region, backend in regions.items()}
            for service, regions in _backends().items()
        }
        data = {
            "version": VERSION,
            "account": ACCOUNT_ID,
            "backends": backends,
            "sandbox": self._sandbox_state.snapshot(),
        }
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as stream:
                pickle.dump(data, stream, protocol=pickle.HIGHEST_PROTOCOL)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash
        finally:
            os.close(directory)

    def after(self, request: ApiRequest, status: int) -> None:
        if status < 300 and changes_state(request):
            self.save()
