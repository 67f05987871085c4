"""The engine-less preview: what the recorder captures, and the pack over its gRPC protocol."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from kmsguard.contract import COMPONENT_TYPE, AwsType
from kmsguard.preview.__main__ import main as preview_main
from kmsguard.preview.analyzer import PolicyPackClient
from kmsguard.preview.collect import UNKNOWN, run_program
from kmsguard.preview.pack_dir import in_repo_pack_env
from kmsguard.preview.report import run_all
from policies.rules import METAS
from tests.pulumi_cli import needs_pulumi_cli

ROOT = Path(__file__).resolve().parents[2]


def tiny_program() -> None:
    key = aws.kms.Key("k", enable_key_rotation=False, deletion_window_in_days=7)
    aws.dynamodb.Table(
        "t",
        hash_key="id",
        attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
        server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
            enabled=True, kms_key_arn=key.arn
        ),
    )
    aws.dynamodb.Table(
        "aws-managed",
        hash_key="id",
        attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
        server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
            enabled=True, kms_key_arn="alias/aws/dynamodb"
        ),
    )
    pulumi.export("keyArn", key.arn)


def test_recorder_captures_engine_view_of_the_program():
    run = run_program({}, preview=True)
    types = [r.type for r in run.resources]
    assert (
        types[0] == "pulumi:pulumi:Stack"
        and COMPONENT_TYPE in types
        and "pulumi:providers:aws" in types
    )
    table = next(r for r in run.resources if r.type == AwsType.DYNAMODB_TABLE)
    key = next(r for r in run.resources if r.type == AwsType.KMS_KEY)
    assert (
        table.urn
        == f"urn:pulumi:dev::kmsguard::{COMPONENT_TYPE}${AwsType.DYNAMODB_TABLE}::{table.name}"
    )
    assert table.inputs["serverSideEncryption"]["kmsKeyArn"] == UNKNOWN  # unknown during preview
    assert table.property_dependencies["serverSideEncryption"] == [key.urn]
    assert key.outputs["arn"] == UNKNOWN and json.loads(key.inputs["policy"])["Statement"]
    assert table.parent.endswith("::kms-protected") and table.provider.startswith(
        "urn:pulumi:dev::kmsguard::pulumi:providers:aws::default_"
    )


def test_recorder_leaves_no_event_loop_for_the_garbage_collector():
    # The SDK gives each executor thread an event loop it never closes; one finalized by the
    # collector warns, and closing it there can fail ("Invalid file descriptor: -1").
    import gc
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        run_program({}, preview=False)
        gc.collect()
    unclosed = [str(w.message) for w in caught if "unclosed event loop" in str(w.message)]
    assert unclosed == []


def test_recorder_update_mode_knows_outputs():
    run = run_program({}, preview=False)
    table = next(r for r in run.resources if r.type == AwsType.DYNAMODB_TABLE)
    assert table.inputs["serverSideEncryption"]["kmsKeyArn"].startswith(
        "arn:aws:kms:us-east-1:123456789012:key/"
    )
    assert run.outputs["keyArn"] == table.inputs["serverSideEncryption"]["kmsKeyArn"]


def test_analyzer_info_carries_metadata():
    with PolicyPackClient() as client:
        info = client.info()
    assert info.name == "kmsguard-policies" and len(info.policies) == len(METAS)
    for p in info.policies:
        assert p.description and p.remediation_steps and p.severity, p.name
    rotation = next(p for p in info.policies if p.name == "kms-key-rotation-enabled")
    assert rotation.configSchema.properties["maxRotationPeriodDays"]["default"] == 365


def test_tiny_program_violations_over_grpc_in_both_modes():
    for preview in (True, False):
        run = run_program({}, preview=preview, program=tiny_program)
        with PolicyPackClient(preview=preview) as client:
            found = {
                (v.policy_name, v.enforcement_level) for v in client.analyze_run(run.resources)
            }
        assert ("kms-key-rotation-enabled", "mandatory") in found
        assert ("kms-key-deletion-window", "advisory") in found
        assert ("dynamodb-table-customer-managed-key", "mandatory") in found


def test_policy_config_is_applied_over_grpc():
    run = run_program({}, preview=False, program=tiny_program)
    with PolicyPackClient(preview=False) as client:
        client.configure(
            {
                "kms-key-deletion-window": {"minDeletionWindowDays": 7},
                "kms-key-rotation-enabled": {"enforcementLevel": "disabled"},
            }
        )
        names = {v.policy_name for v in client.analyze_run(run.resources)}
    assert "kms-key-deletion-window" not in names and "kms-key-rotation-enabled" not in names


@pytest.mark.parametrize("phase", ["denied", "granted"])
def test_program_passes_the_pack_in_preview_and_update(phase):
    outcomes = run_all([phase], [True, False], {})
    for o in outcomes:
        assert o.mandatory == [], [(v.policy_name, v.detail) for v in o.mandatory]


def test_cli_key_user_in_another_account_is_no_mandatory_violation(capsys):
    # The exact reported command: the key's account was guessed from its key users' account.
    code = preview_main(["--config", 'kmsguard:keyUsers=["arn:aws:iam::111122223333:role/app"]'])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "mandatory:" not in out
    # Unknown until deployed, unless the provider names the account: an advisory, not a guess.
    assert "[kms-key-policy-least-privilege]" in out and "aws:allowedAccountIds" in out


def test_cli_deploying_account_from_the_provider_config_settles_the_key_account(capsys):
    users = 'kmsguard:keyUsers=["arn:aws:iam::111122223333:role/app"]'
    args = ["--phase", "denied", "--preview", "--config", users, "--config"]
    # (Exit status aside: the key user of another account is for the public-principal rule.)
    preview_main([*args, 'aws:allowedAccountIds=["123456789012"]'])
    assert "kms-key-policy-least-privilege" not in capsys.readouterr().out
    # The provider deploying elsewhere turns the program's own-root statement foreign (the
    # caller's account pinned apart: alone, the one allowed account would be the caller's).
    caller = ["--config", "kmsguard:previewAccountId=123456789012", "--config"]
    assert preview_main([*args[:-1], *caller, 'aws:allowedAccountIds=["999999999999"]']) == 1
    assert "grants kms:* to arn:aws:iam::123456789012:root" in capsys.readouterr().out


def test_cli_bad_input_exits_2(capsys):
    assert preview_main(["--config", "novalue"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err
    assert preview_main(["--config", "tableName=bad name!", "--preview", "--phase", "denied"]) == 2


def test_cli_refuses_a_config_key_given_twice(capsys):
    assert preview_main(["--config", "tableName=aaa", "--config", "tableName=bbb"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("--config tableName is given twice ('aaa', then 'bbb'); give each key once")


def test_cli_refuses_grant_config_that_the_phase_would_override(capsys):
    assert preview_main(["--config", "grantTestUserKeyAccess=true", "--phase", "denied"]) == 2
    err = capsys.readouterr().err
    assert "grantTestUserKeyAccess is set by --phase (denied: false, granted: true)" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"no-such-policy": {}}', "'no-such-policy': no such policy; allowed: "),
        (
            '{"kms-key-rotation-enabled": {"maxRotationDays": 400}}',
            "kms-key-rotation-enabled.maxRotationDays: unknown setting; allowed: "
            "enforcementLevel, maxRotationPeriodDays",
        ),
        (
            '{"kms-key-rotation-enabled": {"maxRotationPeriodDays": "400"}}',
            'kms-key-rotation-enabled.maxRotationPeriodDays = "400": must be a whole number',
        ),
        (
            '{"kms-key-deletion-window": {"minDeletionWindowDays": 3}}',
            "minDeletionWindowDays = 3: must be from 7 to 30",
        ),
        (
            '{"kms-key-policy-least-privilege": {"adminCryptoActionsAllowed": "yes"}}',
            'adminCryptoActionsAllowed = "yes": must be true or false',
        ),
        (
            '{"kms-key-rotation-enabled": {"enforcementLevel": "loud"}}',
            'enforcementLevel = "loud": allowed: advisory, disabled, mandatory, remediate',
        ),
        ("{", "not JSON (line 1: "),
        ("[]", 'expected {"<policy name>" or "all": "<enforcement level>" or {"enforcementLevel"'),
    ],
)
def test_cli_bad_policy_config_is_one_line_naming_what_is_allowed(content, words, tmp_path, capsys):
    path = tmp_path / "policy.json"
    path.write_text(content)
    assert preview_main(["--policy-config", str(path), "--phase", "denied", "--preview"]) == 2
    err = capsys.readouterr().err
    assert words in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_cli_policy_config_problems_are_listed_together(tmp_path, capsys):
    path = tmp_path / "policy.json"
    path.write_text('{"nope": {}, "kms-key-rotation-enabled": {"x": 1}}')
    assert preview_main(["--policy-config", str(path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].endswith("(2 problems):")
    assert lines[1].startswith("  - 'nope': no such policy")
    assert lines[2].startswith("  - kms-key-rotation-enabled.x: unknown setting")


def test_cli_missing_policy_config_file(tmp_path, capsys):
    assert preview_main(["--policy-config", str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("none.json: cannot read it (No such file or directory)")


def test_cli_stdout_closed_by_its_reader_is_no_traceback():
    proc = subprocess.Popen(
        [sys.executable, "-m", "kmsguard.preview", "--phase", "denied", "--preview"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.close()  # like `| head -0`
    _, err = proc.communicate(timeout=300)
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert proc.returncode == 0  # the program passes the pack in phase denied


def test_cli_module_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "kmsguard.preview", "--phase", "denied", "--preview", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # The program passes its own pack: advisories only, so exit 0.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data[0]["phase"] == "denied" and data[0]["mode"] == "preview"


@pytest.mark.cli
@needs_pulumi_cli("the real `pulumi preview --policy-pack policies` against a sandbox")
def test_real_pulumi_preview_with_the_pack(tmp_path):
    from demo.cli import PASSPHRASE, sandbox_stack_config, stack_init_command
    from sandbox import running

    stack = f"kmsguard-ci-{os.getpid()}"
    stack_file = ROOT / f"Pulumi.{stack}.yaml"
    with running() as sb:
        env = {
            # As after `make venv`: the pack runs with the Python on PATH.
            **in_repo_pack_env(),
            **sb.environment(),
            "PULUMI_BACKEND_URL": tmp_path.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
        }
        try:
            subprocess.run(
                stack_init_command(stack),
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
            # The stack talks to this sandbox only: never to AWS.
            template = (ROOT / "Pulumi.sandbox.yaml").read_text(encoding="utf-8")
            salt = stack_file.read_text(encoding="utf-8") if stack_file.exists() else ""
            stack_file.write_text(
                salt + sandbox_stack_config(template, sb.endpoint_url, sb.region), encoding="utf-8"
            )
            proc = subprocess.run(
                [
                    "pulumi",
                    "preview",
                    "--policy-pack",
                    "policies",
                    "--stack",
                    stack,
                    "--non-interactive",
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
        finally:
            stack_file.unlink(missing_ok=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "kmsguard-policies" in proc.stdout + proc.stderr


def test_a_policy_built_with_get_policy_document_is_judged_by_the_pack():
    def program() -> None:
        document = aws.iam.get_policy_document(
            statements=[
                aws.iam.GetPolicyDocumentStatementArgs(
                    sid="DecryptEverything", actions=["kms:Decr*"], resources=["*"]
                )
            ]
        )
        user = aws.iam.User("reader", name="reader")
        aws.iam.UserPolicy("reader-kms", user=user.name, policy=document.json)

    run = run_program({}, preview=True, program=program)
    policy = next(r for r in run.resources if r.type == AwsType.IAM_USER_POLICY)
    assert json.loads(policy.inputs["policy"])["Statement"][0]["Action"] == "kms:Decr*"
    with PolicyPackClient(preview=True) as pack:
        found = [v for v in pack.analyze_run(run.resources) if v.urn == policy.urn]
    assert [v.policy_name for v in found] == ["iam-policy-no-kms-decrypt-on-all-keys"]
    assert "DecryptEverything" in found[0].detail and "kms:Decrypt" in found[0].detail
