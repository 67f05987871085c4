"""Bad input: exit 2, one line naming what was wrong and what is allowed, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kmsguard.audit.__main__ import main
from sandbox import SandboxInfo
from tests.audit.conftest import audit

pytestmark = [pytest.mark.sandbox, pytest.mark.xdist_group("audit")]


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    # One message: its first line, then (several problems of one file) one "  - " line each.
    assert lines[0].startswith("kmsguard-audit: error: ")
    assert all(ln.startswith("  - ") for ln in lines[1:]), err
    return err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--region", "us-east-1; rm -rf /"], "not a region name"),
        (["--region", "\uff55\uff53-east-1"], "not a region name"),
        (["--prover-timeout", "nan"], "from 0.1 to 3600"),
        (["--prover-timeout", "1e309"], "from 0.1 to 3600"),
        (["--include", "a\x00b"], "a glob of 1 to 1024 characters"),
        (["--include", "x" * 5000], "a glob of 1 to 1024 characters"),
        (["--endpoint-url", "file:///etc/passwd"], "expected http(s)://"),
        (["--policy-pack", "."], "no PulumiPolicy.yaml"),
    ],
)
def test_bad_options_are_refused_before_any_call(
    args: list[str], said: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "a.json"
    assert main(["--region", "us-east-1", *args, "--json", str(out)]) == 2
    assert said in _one_line(capsys)
    assert not out.exists()


def test_an_output_that_is_a_directory_is_refused(tmp_path: Path, capsys) -> None:
    assert main(["--region", "us-east-1", "--sarif", str(tmp_path)]) == 2
    assert "--sarif" in _one_line(capsys)


def test_unknown_argument_is_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--regoin", "us-east-1"])
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    # Nothing but loopback: no instance metadata, no container credentials.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    code = main(["--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:9", "--quiet"])
    assert code == 2
    assert "no credentials" in _one_line(capsys)


def test_a_missing_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    assert main(["--profile", "nope", "--region", "us-east-1"]) == 2
    assert "--profile nope" in _one_line(capsys)


@pytest.fixture(scope="module")
def sb(seeded) -> SandboxInfo:
    return seeded.sb


def test_refused_credentials(sb: SandboxInfo, monkeypatch, capsys) -> None:
    code = audit(sb, monkeypatch, creds=("AKIAUNKNOWNUNKNOWN00", "wrong"))
    assert code == 2
    assert "refused by STS" in _one_line(capsys)


def test_an_unreachable_endpoint(sb: SandboxInfo, monkeypatch, capsys) -> None:
    for k, v in sb.environment().items():
        monkeypatch.setenv(k, v)
    code = main(["--endpoint-url", "http://127.0.0.1:9", "--quiet"])
    assert code == 2
    assert "cannot reach" in _one_line(capsys)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("{not json", "not JSON"),
        ('{"no-such-rule": "mandatory"}', "no such policy"),
        ('{"kms-key-rotation-enabled": {"maxRotationPeriodDays": 1e400}}', "must be"),
        ('{"all": "loud"}', "allowed: advisory"),
    ],
)
def test_a_bad_policy_config_is_refused_before_discovery(
    sb: SandboxInfo, monkeypatch, capsys, tmp_path: Path, text: str, said: str
) -> None:
    path = tmp_path / "config.json"
    path.write_text(text)
    out = tmp_path / "a.json"
    code = audit(sb, monkeypatch, "--policy-config", str(path), "--json", str(out))
    assert code == 2
    assert said in _one_line(capsys)
    assert not out.exists()


def test_a_bad_org_policies_directory(sb: SandboxInfo, monkeypatch, capsys, tmp_path: Path) -> None:
    (tmp_path / "scp-root.json").write_text(json.dumps({"Statement": [{"Effect": "Maybe"}]}))
    code = audit(sb, monkeypatch, "--org-policies", str(tmp_path))
    assert code == 2
    assert "scp-root.json" in _one_line(capsys)


def test_org_policies_given_twice_are_refused(sb, monkeypatch, capsys, tmp_path: Path) -> None:
    org = tmp_path / "org"
    org.mkdir()
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    (org / "scp-root.json").write_text(json.dumps(allow))
    config = tmp_path / "config.json"
    rule = "stack-key-access-matches-declared"
    config.write_text(json.dumps({rule: {"serviceControlPolicies": [allow]}}))
    code = audit(sb, monkeypatch, "--org-policies", str(org), "--policy-config", str(config))
    assert code == 2
    assert "one way" in _one_line(capsys)


def test_an_interrupt_is_one_line_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    import kmsguard.audit.__main__ as command

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "audit", interrupted)
    out = tmp_path / "a.json"
    assert main(["--region", "us-east-1", "--json", str(out)]) == 130
    err = capsys.readouterr().err
    assert err == "kmsguard-audit: interrupted; nothing written\n"
    assert not out.exists()
