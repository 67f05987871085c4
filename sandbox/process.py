"""Python API: run a sandbox in a child process and hand out its endpoint and credentials."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kmsguard.child_process import ChildProcess
from sandbox.settings import (
    ACCOUNT_ID,
    ADMIN_ACCESS_KEY_ID,
    ADMIN_SECRET_ACCESS_KEY,
    DEFAULT_REGION,
    READY_PREFIX,
)

_REPO_ROOT = Path(__file__).resolve().parent.parent


class SandboxStartError(RuntimeError):
    """The child process did not come up; the message carries the tail of its stderr."""


@dataclass(frozen=True)
class SandboxInfo:
    """Where a running sandbox listens and how to call it as the admin (account root)."""

    endpoint_url: str
    region: str
    account_id: str
    admin_access_key_id: str
    admin_secret_access_key: str

    def session(
        self,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
    ) -> Any:
        """A boto3 Session with the given credentials (default: the admin)."""
        import boto3
        import botocore.session

        core = botocore.session.get_session()
        core.register_component(
            "data_loader", _shared_loader(core.get_config_variable("data_path"))
        )
        return boto3.session.Session(
            aws_access_key_id=access_key_id or self.admin_access_key_id,
            aws_secret_access_key=secret_access_key or self.admin_secret_access_key,
            aws_session_token=session_token,
            region_name=self.region,
            botocore_session=core,
        )

    def client(
        self,
        service: str,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
    ) -> Any:
        """A boto3 client for `service` pointed at the sandbox (default: as the admin)."""
        from botocore.config import Config

        config = Config(
            retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=60
        )
        session = self.session(access_key_id, secret_access_key, session_token)
        return session.client(service, endpoint_url=self.endpoint_url, config=config)

    def environment(self) -> dict[str, str]:
        """Environment variables for an SDK or CLI child process to reach the sandbox as admin."""
        return {
            "AWS_ACCESS_KEY_ID": self.admin_access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.admin_secret_access_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }


class _SearchPaths(list[str]):
    """A loader's search paths; boto3 appends its own to the loader of every new session."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


@functools.cache
def _shared_loader(data_path: str | None) -> Any:
    """botocore's reader of service models and endpoints, shared by every session made here.

    Each new session would read and parse the same JSON files again: most of the cost of a
    client (about 0.1 s), paid by every test that asks for one. The files never change, and
    clients of one session share its loader the same way. Extra model directories
    (`AWS_DATA_PATH`) are searched first, as botocore does.
    """
    from botocore.loaders import Loader

    paths = _SearchPaths(
        os.path.expanduser(os.path.expandvars(p)) for p in (data_path or "").split(os.pathsep) if p
    )
    return Loader(extra_search_paths=paths)


def _child_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOTO_", "AWS_"))}
    paths = [str(_REPO_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextlib.contextmanager
def running(
    region: str = DEFAULT_REGION,
    *,
    startup_timeout: float = 60.0,
    verbose: bool = False,
    state_dir: Path | None = None,
    org_policies: Path | None = None,
) -> Iterator[SandboxInfo]:
    """Start a sandbox on a free loopback port; stop it on exit (also on exceptions).

    Fresh unless `state_dir` holds the state of an earlier one. `org_policies` is a directory
    of the organization's SCPs and RCPs (`scp-*.json`, `rcp-*.json`) every request is within.
    """
    command = [sys.executable, "-m", "sandbox", "serve", "--port", "0", "--region", region]
    if verbose:
        command.append("--verbose")
    if state_dir is not None:
        command += ["--state-dir", str(state_dir)]
    if org_policies is not None:
        command += ["--org-policies", str(org_policies)]
    child = ChildProcess(command, env=_child_environment())
    try:
        line = child.ready_line(startup_timeout, lambda text: text.startswith(READY_PREFIX))
        if line is None:
            tail = child.stderr_text(2000).strip() or "no output"
            # Closed stdout may precede the exit status by a moment.
            code = child.exit_code(wait=2)
            if code is None:
                why = f"sandbox did not start within {startup_timeout:.0f}s"
            else:  # it stopped by itself, usually refusing an argument: say that, not a timeout
                why = f"sandbox exited with code {code} before it was ready"
            raise SandboxStartError(f"{why}: {tail}")
        endpoint = line[len(READY_PREFIX) :].strip()
        yield SandboxInfo(
            endpoint, region, ACCOUNT_ID, ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
        )
    finally:
        child.stop()
