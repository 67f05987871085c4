"""Fixtures: a sandbox, and the stack the kmsguard program deploys there with the demo's engine."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from kmsguard.contract import ConfigKey, Output
from verification.ledger import TAG_PREFIX

if TYPE_CHECKING:
    from demo.flow import Demo
    from sandbox import SandboxInfo

# The stack's configuration; tests read every name back from the outputs the program exports.
CONFIG = {ConfigKey.TABLE_NAME: "kms-protected-table", ConfigKey.TEST_USER_NAME: "kms-test-user"}


@dataclass
class Deployed:
    """The program deployed to a sandbox by the demo's engine (`make demo`'s `pulumi up`), and
    the stack outputs that run exported, as `pulumi stack output --json` prints them."""

    sb: SandboxInfo
    demo: Demo
    config: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def table(self) -> str:
        return str(self.outputs[Output.TABLE_NAME])

    @property
    def user(self) -> str:
        return str(self.outputs[Output.TEST_USER_NAME])

    @property
    def key_arn(self) -> str:
        return str(self.outputs[Output.KEY_ARN])

    def _run(self, *, grant: bool, preview: bool) -> dict[str, Any]:
        from demo.flow import stack_outputs

        config = {**self.config, ConfigKey.GRANT_TEST_USER_KEY_ACCESS: grant}
        run, _ = self.demo.program_run(config, preview=preview)
        return dict(stack_outputs(run.outputs))

    def apply(self, *, grant: bool) -> None:
        """`pulumi up` again: the engine updates the deployed resources in place (a new key
        policy is PutKeyPolicy on the same key) and the outputs are the new run's."""
        self.outputs = self._run(grant=grant, preview=False)

    def planned(self, *, grant: bool) -> dict[str, Any]:
        """The outputs the program would export with `grant`, from a preview: nothing applied."""
        return self._run(grant=grant, preview=True)

    def shared(self) -> Deployed:
        """This deployment with outputs of its own, for a test that edits them."""
        return dataclasses.replace(self, outputs=copy.deepcopy(self.outputs))

    def user_leftovers(self) -> dict[str, list[Any]]:
        """Access keys on the test user and the verifier's tags on it (as the admin)."""
        iam = self.sb.client("iam")
        keys = iam.list_access_keys(UserName=self.user)["AccessKeyMetadata"]
        # The program tags the user too (project, stack): those are not the verifier's.
        tags = iam.list_user_tags(UserName=self.user)["Tags"]
        return {"keys": keys, "tags": [t for t in tags if t["Key"].startswith(TAG_PREFIX)]}

    def leftovers(self) -> dict[str, list[Any]]:
        """`user_leftovers` and the items in the table."""
        items = self.sb.client("dynamodb").scan(TableName=self.table)["Items"]
        return {**self.user_leftovers(), "items": items}


def deploy(sb: SandboxInfo, *, grant: bool = False, **config: Any) -> Deployed:
    """`pulumi up` of the kmsguard program (`config`: more of its stack configuration)."""
    from demo.flow import Demo

    deployed = Deployed(sb, Demo(sb, lambda _: None), {**CONFIG, **config})
    deployed.apply(grant=grant)
    return deployed


def use_admin(monkeypatch: pytest.MonkeyPatch, sb: SandboxInfo) -> None:
    """The admin's credentials in the environment, as the CLI's boto3 chain reads them."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in sb.environment().items():
        if name != "AWS_ENDPOINT_URL":
            monkeypatch.setenv(name, value)


@pytest.fixture
def sandbox() -> Iterator[SandboxInfo]:
    from sandbox import running

    with running() as sb:
        yield sb


@pytest.fixture
def admin_env(sandbox: SandboxInfo, monkeypatch: pytest.MonkeyPatch) -> SandboxInfo:
    use_admin(monkeypatch, sandbox)
    return sandbox


@pytest.fixture
def stack(admin_env: SandboxInfo) -> Deployed:
    """A fresh account and deployment: for tests that change what is deployed."""
    return deploy(admin_env)


@pytest.fixture(scope="module")
def deployed_once() -> Iterator[Deployed]:
    """One deployment for a module's tests that leave what is deployed as they found it (the
    verifier removes what it creates); each of them takes it through `unchanged_stack`."""
    from sandbox import running

    with running() as sb:
        yield deploy(sb)


@pytest.fixture
def unchanged_stack(deployed_once: Deployed, monkeypatch: pytest.MonkeyPatch) -> Deployed:
    use_admin(monkeypatch, deployed_once.sb)
    return deployed_once.shared()
