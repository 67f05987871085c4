"""examples/component-yaml: checked against the provider schema; run by the CLI where present."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kmsguard.contract import COMPONENT_TYPE
from kmsguard.preview.pack_dir import REPO, in_repo_pack_env
from kmsguard.provider import KmsguardProvider
from tests.pulumi_cli import needs_pulumi_cli

EXAMPLE = REPO / "examples" / "component-yaml"


def _program() -> dict[str, Any]:
    return yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text(encoding="utf-8"))


def test_example_uses_the_component_as_its_schema_defines_it() -> None:
    schema = json.loads(KmsguardProvider().schema or "{}")["resources"][COMPONENT_TYPE]
    program = _program()
    plugin = (EXAMPLE / program["packages"]["kmsguard"]).resolve()
    assert (plugin / "PulumiPlugin.yaml").is_file() and plugin == REPO / "provider"
    (resource,) = program["resources"].values()
    assert resource["type"] == COMPONENT_TYPE
    given = set(resource["properties"])
    assert given <= set(schema["inputProperties"]) and set(schema["requiredInputs"]) <= given
    used = {
        m.group(1)
        for value in program["outputs"].values()
        for m in [re.fullmatch(r"\$\{protected\.(\w+)\}", value)]
        if m
    }
    assert used == set(program["outputs"]) and used <= set(schema["properties"])


@pytest.mark.cli
@needs_pulumi_cli("`pulumi preview` of examples/component-yaml against a sandbox")
def test_yaml_example_previews_with_the_pack_against_a_sandbox(tmp_path: Path) -> None:
    from demo.cli import PASSPHRASE, sandbox_stack_config
    from sandbox import running

    stack = f"kmsguard-ci-{os.getpid()}"
    stack_file = EXAMPLE / f"Pulumi.{stack}.yaml"
    template = (REPO / "Pulumi.sandbox.yaml").read_text(encoding="utf-8")
    # The sandbox's provider settings only; the program's own keys keep their defaults.
    template = re.sub(r"(?ms)^  kmsguard:.*", "", template)
    with running() as sb:
        env = {
            **in_repo_pack_env(),
            **sb.environment(),
            "PULUMI_BACKEND_URL": tmp_path.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
        }

        def pulumi(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["pulumi", *args, "--non-interactive"],
                cwd=EXAMPLE,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )

        try:
            for step in (("install",), ("stack", "init", stack)):
                done = pulumi(*step)
                assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
            salt = stack_file.read_text(encoding="utf-8") if stack_file.exists() else ""
            stack_file.write_text(
                salt + sandbox_stack_config(template, sb.endpoint_url, sb.region), encoding="utf-8"
            )
            proc = pulumi("preview", "--policy-pack", str(REPO / "policies"), "--stack", stack)
        finally:
            stack_file.unlink(missing_ok=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert COMPONENT_TYPE in proc.stdout and "kmsguard-policies" in proc.stdout + proc.stderr
