"""The demo's story on the embedded sandbox: guard, deploy, verify; grant; block a weakening."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from demo.attempts import ATTEMPTS
from demo.engine import SandboxEngine, StackState
from kmsguard.contract import AwsType, ConfigKey
from kmsguard.preview.analyzer import PolicyPackClient
from kmsguard.preview.collect import ProgramRun, run_program
from kmsguard.preview.diagnostics import Violation
from sandbox import SandboxInfo
from verification import Report
from verification import run as verify
from verification.read_paths import describe
from verification.readers import CHECK as READERS

MANDATORY = ("mandatory", "remediate")
Say = Callable[[str], None]


@dataclass
class Phase:
    """One `pulumi up` of the stack: the pack's verdicts, what was applied, what was proven."""

    name: str
    granted: bool
    preview_violations: list[Violation] = field(default_factory=list)
    update_violations: list[Violation] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    report: Report | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return any(v.enforcement_level in MANDATORY for v in self.preview_violations)

    @property
    def readers(self) -> list[str]:
        """Who can read the table's items, as the verifier's `table.readers` rows say it."""
        rows = self.report.config_rows if self.report else []
        return [
            f"{r.observed} ({r.verdict}" + (f": {r.detail})" if r.detail else ")")
            for r in rows
            if r.check == READERS or r.check.startswith(READERS + "[")
        ]

    @property
    def ok(self) -> bool:
        mandatory = [
            v
            for v in self.preview_violations + self.update_violations
            if v.enforcement_level in MANDATORY
        ]
        return not mandatory and self.report is not None and self.report.exit_code == 0


@dataclass
class Attempt:
    """A change that would weaken protection, and whether the pack stopped it before deploying."""

    title: str
    expected_rule: str
    violations: list[Violation] = field(default_factory=list)
    unchanged: bool = False

    @property
    def blocking_rules(self) -> list[str]:
        return sorted({v.policy_name for v in self.violations if v.enforcement_level in MANDATORY})

    @property
    def witness(self) -> list[str]:
        """What the expected rule said: the principal and request that made it refuse."""
        return [
            v.detail
            for v in self.violations
            if v.policy_name == self.expected_rule and v.enforcement_level in MANDATORY
        ]

    @property
    def ok(self) -> bool:
        return self.expected_rule in self.blocking_rules and self.unchanged


@dataclass
class DemoResult:
    phases: list[Phase] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    key_ids: list[str] = field(default_factory=list)
    destroyed: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def same_key(self) -> bool:
        return len(set(self.key_ids)) == 1 and len(self.key_ids) == len(self.phases)

    @property
    def ok(self) -> bool:
        return (
            len(self.phases) == 2
            and all(p.ok for p in self.phases)
            and bool(self.attempts)
            and all(a.ok for a in self.attempts)
            and self.same_key
        )


def stack_outputs(value: Any) -> Any:
    """Outputs as `pulumi stack output --json` prints them: protobuf Structs carry every number
    as a double, the CLI prints whole numbers as integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: stack_outputs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [stack_outputs(v) for v in value]
    return value


@contextlib.contextmanager
def _admin_environment(sb: SandboxInfo) -> Iterator[None]:
    """The verifier takes the admin from the standard credential chain, as it does on AWS."""
    saved = {k: os.environ.get(k) for k in sb.environment()}
    os.environ.update(sb.environment())
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Demo:
    """Runs the flow against one sandbox; `say` receives progress lines."""

    def __init__(self, sb: SandboxInfo, say: Say, *, config: dict[str, Any] | None = None) -> None:
        self.sb = sb
        self.say = say
        # The provider pinned to the sandbox's account, as a careful stack config does: the pack
        # then knows the key's account during preview instead of deferring what depends on it.
        self.config = {
            "aws:region": sb.region,
            "aws:allowedAccountIds": json.dumps([sb.account_id]),
            **(config or {}),
        }
        self.state = StackState()
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.sb.client(service)
        return self._clients[service]

    def engine(self, *, preview: bool) -> SandboxEngine:
        return SandboxEngine(self.client, self.sb.region, self.state, preview=preview)

    def program_run(
        self, config: dict[str, Any], *, preview: bool, program: Callable[[], None] | None = None
    ) -> tuple[ProgramRun, SandboxEngine]:
        engine = self.engine(preview=preview)
        return run_program(config, preview=preview, mocks=engine, program=program), engine

    def run(self, *, keep: bool = False) -> DemoResult:
        """Both phases, the guardrail attempts, then teardown unless `keep`."""
        result = DemoResult()
        started = time.perf_counter()
        with (
            PolicyPackClient(preview=True, stack="sandbox") as pack_preview,
            PolicyPackClient(preview=False, stack="sandbox") as pack_update,
            _admin_environment(self.sb),
        ):
            result.seconds["policy pack start"] = time.perf_counter() - started
            for name, granted in (("denied", False), ("granted", True)):
                phase = self.phase(name, granted, pack_preview, pack_update)
                result.phases.append(phase)
                if phase.outputs.get("keyId"):
                    result.key_ids.append(str(phase.outputs["keyId"]))
                if phase.blocked:
                    break
            t = time.perf_counter()
            result.attempts = [self.attempt(*a, pack=pack_preview) for a in ATTEMPTS]
            result.seconds["guardrail attempts"] = time.perf_counter() - t
        if not keep:
            t = time.perf_counter()
            self.say("tearing down (pulumi destroy, simulated)")
            result.destroyed = self.engine(preview=False).destroy()
            result.seconds["teardown"] = time.perf_counter() - t
        result.seconds["total"] = time.perf_counter() - started
        return result

    def phase(
        self,
        name: str,
        granted: bool,
        pack_preview: PolicyPackClient,
        pack_update: PolicyPackClient,
    ) -> Phase:
        phase = Phase(name, granted)
        config = {**self.config, ConfigKey.GRANT_TEST_USER_KEY_ACCESS: granted}
        flag = f"{ConfigKey.GRANT_TEST_USER_KEY_ACCESS}={str(granted).lower()}"
        self.say(f"phase {name!r} ({flag}): policy check of the planned change")
        t = time.perf_counter()
        planned, _ = self.program_run(config, preview=True)
        phase.preview_violations = pack_preview.analyze_run(planned.resources)
        phase.seconds["policy check"] = time.perf_counter() - t
        if phase.blocked:
            self.say(f"phase {name!r}: blocked by the policy pack; nothing deployed")
            return phase
        self.say(f"phase {name!r}: deploying (engine simulation, not `pulumi up`)")
        t = time.perf_counter()
        applied, engine = self.program_run(config, preview=False)
        phase.applied = engine.log
        phase.outputs = stack_outputs(applied.outputs)
        phase.update_violations = pack_update.analyze_run(applied.resources)
        phase.seconds["deploy"] = time.perf_counter() - t
        self.say(f"phase {name!r}: verifying as each principal")
        t = time.perf_counter()
        phase.report = verify(
            phase.outputs,
            endpoint_url=self.sb.endpoint_url,
            region=self.sb.region,
            progress=self.say,
        )
        phase.seconds["verify"] = time.perf_counter() - t
        return phase

    def attempt(
        self,
        title: str,
        change: dict[str, Any],
        program: Callable[[], None] | None,
        rule: str,
        *,
        pack: PolicyPackClient,
    ) -> Attempt:
        self.say(f"guardrail: trying to {title}")
        config = {**self.config, ConfigKey.GRANT_TEST_USER_KEY_ACCESS: True, **change}
        before = self.deployed_protection()
        planned, _ = self.program_run(config, preview=True, program=program)
        attempt = Attempt(title, rule, pack.analyze_run(planned.resources))
        if not attempt.blocking_rules:
            # The pack let it through: deploy it, as `pulumi up` would, so the summary shows harm.
            self.program_run(config, preview=False, program=program)
        attempt.unchanged = self.deployed_protection() == before
        return attempt

    def deployed_protection(self) -> dict[str, Any]:
        """What an attacker would want changed: the key policy, rotation, the table's SSE and
        the resource-based policies of the table and its stream (GetResourcePolicy)."""
        key = next((d for d in self.state.resources.values() if d.type == AwsType.KMS_KEY), None)
        table = next(
            (d for d in self.state.resources.values() if d.type == AwsType.DYNAMODB_TABLE), None
        )
        if key is None or table is None:
            return {}
        kms, ddb = self.client("kms"), self.client("dynamodb")
        reads = describe(ddb, table.id, str(table.outputs["arn"]))
        return {
            "policy": json.loads(kms.get_key_policy(KeyId=key.id, PolicyName="default")["Policy"]),
            "rotation": {
                k: v
                for k, v in kms.get_key_rotation_status(KeyId=key.id).items()
                if k != "ResponseMetadata"
            },
            "sse": ddb.describe_table(TableName=table.id)["Table"].get("SSEDescription"),
            "table policy": reads.table_policy,
            "stream": reads.stream_arn,
            "stream policy": reads.stream_policy,
        }
