"""Orchestrate a verification run: preflight, configuration checks, probes as each principal."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from kmsguard.aws_errors import error_code
from kmsguard.contract import Expect
from kmsguard.org_policies import OrgPolicies
from verification.access_rows import (
    ENCRYPTION_CONTEXT,
    KeySchema,
    ProbeHook,
    Prober,
    delete_probe_items,
    read_key_schema,
    unverifiable,
)
from verification.aws import Aws, is_loopback
from verification.config_checks import run_config_checks
from verification.explain import Explainer
from verification.outputs import SUPPORTED_ACTIONS, Expectation, StackFacts, parse_outputs
from verification.principals import PrincipalActor
from verification.readers import check_readers
from verification.report import Report
from verification.settle import AWS_BACKOFF, LOOPBACK_BACKOFF, Backoff, Clock
from verification.verdicts import PASS, AccessRow

AWS_SETTLE_TIMEOUT = 300.0
LOOPBACK_SETTLE_TIMEOUT = 10.0


class VerificationUnavailable(Exception):
    """Nothing can be verified (no credentials, endpoint down); the message is one line."""


class Runner:
    def __init__(
        self,
        facts: StackFacts,
        aws: Aws,
        *,
        settle_timeout: float,
        stable_count: int,
        clock: Clock,
        backoff: Backoff,
        explain: bool,
        progress: Callable[[str], None] | None,
        on_probe: ProbeHook | None,
        org_policies: OrgPolicies | None = None,
    ) -> None:
        self.facts = facts
        self.aws = aws
        self.settle_timeout = settle_timeout
        self.stable_count = stable_count
        self.clock = clock
        self.backoff = backoff
        self.explain = explain
        self.progress = progress or (lambda _msg: None)
        self.on_probe = on_probe
        self.org = org_policies or OrgPolicies()
        self.schema: KeySchema | None = None
        self.table: dict[str, Any] = {}
        self.notes: list[str] = []

    def preflight(self) -> str:
        try:
            return str(self.aws.client("sts").get_caller_identity()["Arn"])
        except NoCredentialsError:
            raise VerificationUnavailable(
                "no AWS credentials for the admin; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
                "or AWS_PROFILE"
            ) from None
        except (PartialCredentialsError, ProfileNotFound) as exc:
            # botocore's text names the profile or the missing variable, never a secret.
            raise VerificationUnavailable(
                f"the admin's AWS credentials are misconfigured: {exc}; set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY together, or an existing AWS_PROFILE"
            ) from None
        except ClientError as exc:
            raise VerificationUnavailable(
                f"the admin credentials were refused ({error_code(exc)}); check AWS_ACCESS_KEY_ID"
            ) from None
        except BotoCoreError as exc:
            where = self.aws.endpoint_url or "AWS"
            raise VerificationUnavailable(f"cannot reach {where}: {error_code(exc)}") from None

    def remove_items(self, values: list[str], clients: list[Any]) -> list[str]:
        return delete_probe_items(self.facts.table_name, self.schema, values, clients)

    def run(self) -> Report:
        start = self.clock.now()
        admin_arn = self.preflight()
        admin_ddb = self.aws.client("dynamodb")
        admin_kms = self.aws.client("kms")
        self.progress("checking configuration as the admin")
        config_rows = run_config_checks(admin_ddb, admin_kms, self.facts)
        self.progress("listing the account's users, groups and roles")
        config_rows += check_readers(
            self.aws.client("iam"),
            admin_kms,
            self.facts,
            self.aws.region,
            scps=self.org.scps,
            rcps=self.org.rcps,
            dynamodb=admin_ddb,
        )
        target_problem = ""
        try:
            self.schema, self.table = read_key_schema(admin_ddb, self.facts.table_name)
        except (ClientError, BotoCoreError, KeyError) as exc:
            if error_code(exc) == "ResourceNotFoundException":
                target_problem = f"the table {self.facts.table_name} does not exist"
            else:
                target_problem = f"cannot read the table's key schema ({error_code(exc)})"
        ciphertext: bytes | None = None
        try:
            ciphertext = admin_kms.encrypt(
                KeyId=self.facts.key_arn,
                Plaintext=os.urandom(32),
                EncryptionContext=ENCRYPTION_CONTEXT,
            )["CiphertextBlob"]
        except (ClientError, BotoCoreError) as exc:
            self.notes.append(f"the admin could not encrypt a test blob ({error_code(exc)})")
        actor = PrincipalActor(
            self.aws, self.aws.client("iam"), self.aws.client("sts"), self.remove_items
        )
        deadline = start + self.settle_timeout
        rows: list[AccessRow] = []
        prober = (
            Prober(
                self.facts,
                self.aws,
                self.schema,
                self.table,
                self.stable_count,
                self.clock,
                self.backoff,
                self.progress,
                self.on_probe,
            )
            if self.schema is not None and not target_problem
            else None
        )
        for principal, expectations in _by_principal(self.facts.expectations).items():
            if prober is None:
                rows += [unverifiable(e, target_problem) for e in expectations]
                continue
            principal_rows, notes = prober.principal_rows(
                actor, principal, expectations, ciphertext, deadline
            )
            rows += principal_rows
            self.notes += notes
        if self.explain:
            rows = self._explain(rows)
        return Report(
            facts=self.facts,
            admin=admin_arn,
            endpoint_url=self.aws.endpoint_url,
            region=self.aws.region,
            settle_timeout=self.settle_timeout,
            stable_count=self.stable_count,
            config_rows=config_rows,
            access_rows=rows,
            notes=self.notes,
        )

    def _explain(self, rows: list[AccessRow]) -> list[AccessRow]:
        iam = self.aws.client("iam")
        explainer = Explainer(
            iam,
            self.aws.client("kms"),
            self.facts,
            self.aws.region,
            scps=self.org.scps,
            rcps=self.org.rcps,
            encryption_context=ENCRYPTION_CONTEXT,
        )
        out = []
        for row in rows:
            if row.action not in SUPPORTED_ACTIONS:
                out.append(row)  # a read path: the table.readers row says who reads and why
                continue
            if (
                row.expected == Expect.DENY
                or row.observed.startswith("deny")
                or (row.verdict != PASS)
            ):
                row = _replace(row, explanation=explainer.explain(row.principal, row.action))
            out.append(row)
        return out


def _replace(row: AccessRow, **changes: Any) -> AccessRow:
    from dataclasses import replace

    return replace(row, **changes)


def _by_principal(expectations: tuple[Expectation, ...]) -> dict[str, list[Expectation]]:
    order = {a: i for i, a in enumerate(SUPPORTED_ACTIONS)}
    grouped: dict[str, list[Expectation]] = {}
    for e in expectations:
        grouped.setdefault(e.principal, []).append(e)
    # PutItem before GetItem, so GetItem reads the probe item rather than nothing.
    return {p: sorted(es, key=lambda e: order[e.action]) for p, es in grouped.items()}


def run(
    facts_or_outputs: StackFacts | Mapping[str, Any],
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    settle_timeout: float | None = None,
    stable_count: int = 3,
    clock: Clock | None = None,
    explain: bool = True,
    progress: Callable[[str], None] | None = None,
    on_probe: ProbeHook | None = None,
    org_policies: OrgPolicies | None = None,
) -> Report:
    """Verify a deployed stack. Raises VerificationInputError (bad outputs) or
    VerificationUnavailable (no credentials, endpoint down); otherwise returns the Report."""
    facts = (
        facts_or_outputs
        if isinstance(facts_or_outputs, StackFacts)
        else parse_outputs(dict(facts_or_outputs))
    )
    resolved_region = (
        region
        or facts.region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
    )
    if not resolved_region:
        raise VerificationUnavailable(
            "no region: pass --region, export the stack output region, or set AWS_REGION"
        )
    local = is_loopback(endpoint_url)
    if settle_timeout is None:
        settle_timeout = LOOPBACK_SETTLE_TIMEOUT if local else AWS_SETTLE_TIMEOUT
    if stable_count < 1:
        raise VerificationUnavailable("--stable-count must be at least 1")
    runner = Runner(
        facts,
        Aws(resolved_region, endpoint_url),
        settle_timeout=settle_timeout,
        stable_count=stable_count,
        clock=clock or Clock(),
        backoff=LOOPBACK_BACKOFF if local else AWS_BACKOFF,
        explain=explain,
        progress=progress,
        on_probe=on_probe,
        org_policies=org_policies or OrgPolicies(),
    )
    try:
        return runner.run()
    except NoRegionError:
        raise VerificationUnavailable("no region configured") from None
