"""boto3 clients for one set of credentials, all pointed at one endpoint when given."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import boto3
import botocore.session
from botocore.config import Config
from botocore.loaders import Loader


def is_loopback(endpoint_url: str | None) -> bool:
    if not endpoint_url:
        return False
    host = urlparse(endpoint_url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


class _SearchPaths(list[str]):
    """A loader's search paths; boto3 appends its own to the loader of every new session."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


@functools.cache
def _shared_loader(data_path: str | None) -> Loader:
    """botocore's reader of service models and endpoints, shared by every session made here.

    A run makes a session per client and set of credentials; each would read and parse the same
    JSON files again, most of the cost of a client. Clients of one session share it the same way.
    Extra model directories (`AWS_DATA_PATH`) are searched first, as botocore does.
    """
    paths = _SearchPaths(
        os.path.expanduser(os.path.expandvars(p)) for p in (data_path or "").split(os.pathsep) if p
    )
    return Loader(extra_search_paths=paths)


@dataclass(frozen=True)
class Credentials:
    """Temporary credentials; repr hides the secret so it can never reach a log or report."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:
        return f"Credentials(access_key_id={self.access_key_id!r}, secret=***)"


@dataclass(frozen=True)
class Aws:
    """Where to call: `endpoint_url` (None means AWS itself) and region."""

    region: str
    endpoint_url: str | None = None

    def _config(self) -> Config:
        # Few retries: the verifier does its own bounded retrying, and an unreachable endpoint
        # must fail fast with exit 2 rather than hang.
        local = is_loopback(self.endpoint_url)
        return Config(
            region_name=self.region,
            retries={"max_attempts": 2 if local else 4, "mode": "standard"},
            connect_timeout=3 if local else 10,
            read_timeout=20 if local else 60,
        )

    def session(self, credentials: Credentials | None = None) -> boto3.Session:
        core = botocore.session.get_session()
        core.register_component(
            "data_loader", _shared_loader(core.get_config_variable("data_path"))
        )
        if credentials is None:
            return boto3.Session(region_name=self.region, botocore_session=core)
        return boto3.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            region_name=self.region,
            botocore_session=core,
        )

    def client(self, service: str, credentials: Credentials | None = None) -> Any:
        return self.session(credentials).client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint_url,
            config=self._config(),
        )
