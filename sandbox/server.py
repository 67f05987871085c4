"""Serving moto's services behind the authorization layer on loopback (threaded werkzeug)."""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import TextIO

from werkzeug.serving import (
    BaseWSGIServer,
    get_sockaddr,
    select_address_family,
)
from werkzeug.serving import make_server as werkzeug_make_server

from kmsguard.org_policies import OrgPolicies
from sandbox import keys, limits, partiql, streams, table_policies
from sandbox.engine import Engine
from sandbox.middleware import AuthorizingApp
from sandbox.services import iam
from sandbox.settings import (
    ACCOUNT_ID,
    ADMIN_ACCESS_KEY_ID,
    ADMIN_SECRET_ACCESS_KEY,
    READY_PREFIX,
    SERVICES,
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _configure_moto() -> None:
    # Before any moto backend exists: AWS managed policies (AmazonDynamoDBFullAccess...) must be
    # real documents, and every request lands in the one sandbox account.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    os.environ["MOTO_ACCOUNT_ID"] = ACCOUNT_ID
    os.environ.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)  # our layer is the authority


def _no_moto_key_policy_check(key: object, action: str) -> None:
    return None


def build_app(
    region: str,
    engine: Engine | None = None,
    state_dir: Path | None = None,
    org_policies: OrgPolicies | None = None,
) -> AuthorizingApp:
    _configure_moto()
    import moto.kms.responses
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    # moto's own key-policy check refuses DescribeKey to everyone when any Deny statement
    # mentions it, whoever the principal; the authorization layer decides instead.
    moto.kms.responses.validate_policy = _no_moto_key_policy_check
    limits.enforce_item_limit_in_moto()
    partiql.install()
    keys.mark_aws_managed_keys()
    table_policies.drop_policies_with_tables()
    streams.serve_stream_policies()

    from sandbox import served

    for service in (*SERVICES, streams.SERVICE):
        served.operations(service)  # load the models now, not during the first request
    iam.iam_resource_kinds("GetUser")  # and the IAM catalog
    moto_app = DomainDispatcherApplication(create_backend_app)
    if engine is None:
        org = org_policies or OrgPolicies()
        engine = Engine(scps=org.scps, rcps=org.rcps)
    app = AuthorizingApp(moto_app, engine, region)
    if state_dir is not None:
        from sandbox.state import StateStore

        store = StateStore(state_dir, app.rotation)
        store.restore()
        app.keep_state(store)
    return app


def make_server(
    host: str,
    port: int,
    region: str,
    engine: Engine | None = None,
    state_dir: Path | None = None,
    org_policies: OrgPolicies | None = None,
) -> BaseWSGIServer:
    """A threaded WSGI server, bound but not yet serving."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # Bind here: werkzeug reports a busy port by printing and calling sys.exit itself.
    family = select_address_family(host, port)
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(get_sockaddr(host, port, family))
        listener.listen(128)
        app = build_app(region, engine, state_dir, org_policies)
        return werkzeug_make_server(
            host,
            port,
            app,
            threaded=True,
            request_handler=MotoRequestHandler,
            fd=listener.fileno(),
        )


def endpoint_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(
    host: str,
    port: int,
    region: str,
    out: TextIO = sys.stdout,
    state_dir: Path | None = None,
    org_policies: OrgPolicies | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM; print the endpoint first (the Python API waits for it)."""
    server = make_server(host, port, region, state_dir=state_dir, org_policies=org_policies)
    endpoint = endpoint_of(host, int(server.server_address[1]))
    signal.signal(signal.SIGTERM, _stop)
    try:
        _banner(out, endpoint, region, state_dir)
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _banner(out: TextIO, endpoint: str, region: str, state_dir: Path | None) -> None:
    state = (
        f"saved in {state_dir} after every change, restored on start"
        if state_dir is not None
        else "in memory only: lost when the sandbox stops (--state-dir DIR keeps it)"
    )
    out.write(
        f"{READY_PREFIX}{endpoint}\n"
        f"  region:                {region}\n"
        f"  account:               {ACCOUNT_ID}\n"
        f"  admin access key id:   {ADMIN_ACCESS_KEY_ID}\n"
        f"  admin secret key:      {ADMIN_SECRET_ACCESS_KEY}  (documented local constant)\n"
        f"  services:              dynamodb kms iam sts (all on this endpoint)\n"
        f"  state:                 {state}\n"
        "Press Ctrl-C to stop.\n"
    )
    out.flush()
