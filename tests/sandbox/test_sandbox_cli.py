"""The `python -m sandbox` command line and the request-parsing helpers."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import DEFAULT_PORT, canonical, running
from sandbox.__main__ import main
from sandbox.errors import access_denied, query_error
from sandbox.server import is_loopback
from sandbox.settings import ADMIN_ACCESS_KEY_ID, READY_PREFIX
from sandbox.wire import parse_request

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--host", "0.0.0.0"],
        ["serve", "--port", "70000"],
        ["serve", "--port", "http"],
        ["serve", "--region", "moon-1"],
        ["serve", "--region", "us-east-1\n"],
        ["serve", "--region", "us-east-\u0661"],
        ["launch"],
    ],
)
def test_bad_arguments_exit_2_with_one_message(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("python -m sandbox: error: ")


def test_bad_port_names_what_is_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--port", "-1"])
    assert capsys.readouterr().err.strip() == (
        "python -m sandbox: error: argument --port: '-1' is not a port "
        "(0-65535; 0 picks a free port) (see --help)"
    )


def test_allowed_non_loopback_host_serves_with_a_warning(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[tuple[str, int, str]] = []
    monkeypatch.setattr(
        "sandbox.__main__.serve",
        lambda host, port, region, state_dir=None, org_policies=None: served.append(
            (host, port, region)
        ),
    )
    assert main(["serve", "--host", "0.0.0.0", "--port", "0", "--allow-non-loopback"]) == 0
    assert served == [("0.0.0.0", 0, "us-east-1")]
    assert "warning: serving on 0.0.0.0, reachable beyond this machine" in capsys.readouterr().err
    assert main(["serve", "--port", "0"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_non_loopback_refusal_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--host", "10.1.2.3"])
    assert "--allow-non-loopback" in capsys.readouterr().err


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.1")


@pytest.mark.sandbox
def test_serve_prints_endpoint_and_credentials_and_stops_cleanly_on_interrupt() -> None:
    # PYTHONFAULTHANDLER: a sandbox that does not stop is made to say where it is (SIGABRT).
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith(READY_PREFIX + "http://127.0.0.1:")
        banner = [proc.stdout.readline() for _ in range(7)]
        assert any("us-east-1" in line for line in banner)
        assert any(ADMIN_ACCESS_KEY_ID in line for line in banner)
        assert any("in memory only" in line for line in banner)
        proc.send_signal(signal.SIGINT)
        # Generous: a loaded 2-core machine can take long to unwind; the exit code is the check.
        # communicate() drains stderr meanwhile, so a talkative sandbox cannot block on a pipe.
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            _, err = proc.communicate(timeout=30)
            pytest.fail(f"the sandbox did not stop on Ctrl-C; where it was:\n{err[-8000:]}")
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.sandbox
def test_context_manager_stops_the_child_on_exceptions() -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(RuntimeError), running() as sb:
        endpoint = sb.endpoint_url
        raise RuntimeError("boom")
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(endpoint, timeout=2)


def test_default_port_is_what_pulumi_sandbox_yaml_uses() -> None:
    text = (REPO / "Pulumi.sandbox.yaml").read_text()
    assert f"http://127.0.0.1:{DEFAULT_PORT}" in text


def _environ(headers: dict[str, str], body: bytes, content_type: str) -> dict[str, object]:
    environ: dict[str, object] = {
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "QUERY_STRING": "",
        "wsgi.input": io.BytesIO(body),
    }
    environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    return environ


def test_parse_json_and_query_requests() -> None:
    auth = (
        "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE123456789/20261128/eu-west-1/dynamodb/"
        "aws4_request, SignedHeaders=host, Signature=abc"
    )
    body = b'{"TableName": "t"}'
    environ = _environ({"Authorization": auth, "X-Amz-Target": "DynamoDB_20120810.Scan"}, body, "x")
    request = parse_request(environ, body, "us-east-1")
    # The wire gives who and what; the parameters are read once, after the signature.
    assert request.params == {}
    request = canonical.read(request, environ, body)
    assert (request.access_key_id, request.region, request.service) == (
        "AKIAEXAMPLE123456789",
        "eu-west-1",
        "dynamodb",
    )
    assert (request.action, request.protocol, request.params) == (
        "Scan",
        "json",
        {"TableName": "t"},
    )

    body = b"Action=ListUsers&Version=2010-05-08"
    iam_auth = auth.replace("eu-west-1/dynamodb", "us-east-1/iam")
    request = parse_request(
        _environ({"Authorization": iam_auth}, body, "application/x-www-form-urlencoded"),
        body,
        "us-east-1",
    )
    assert (request.service, request.action, request.protocol) == ("iam", "ListUsers", "query")
    assert parse_request(_environ({}, b"", ""), b"", "us-east-1").access_key_id is None


def test_denials_use_each_protocols_shape() -> None:
    body = b"{}"
    json_request = parse_request(
        _environ({"X-Amz-Target": "TrentService.Decrypt"}, body, "x"), body, "us-east-1"
    )
    json_denial = access_denied(json_request, "nope")
    assert json_denial.status == 400 and b'"__type": "AccessDeniedException"' in json_denial.body
    xml_denial = query_error("iam", "AccessDenied", "a < b")
    assert xml_denial.status == 403
    assert b"<Code>AccessDenied</Code><Message>a &lt; b</Message>" in xml_denial.body


def test_busy_port_is_one_message_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "Traceback" not in err
    assert err.strip().endswith("(--port 0 picks a free port)")
    assert len(err.strip().splitlines()) == 1


def test_a_child_that_cannot_start_raises_with_its_message() -> None:
    from sandbox import SandboxStartError

    with pytest.raises(SandboxStartError, match="not an AWS region name"), running(region="mars"):
        pass
