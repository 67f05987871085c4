"""Orchestrate a verification run: preflight, configuration checks, probes as each principal."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from kmsguard.contract import Expect
from kmsguard.org_policies import OrgPolicies
from verification import read_probes
from verification.aws import Aws, is_loopback
from verification.config_checks import run_config_checks
from verification.explain import Explainer
from verification.ledger import new_run_id, probe_item_value
from verification.outputs import SUPPORTED_ACTIONS, Expectation, StackFacts, parse_outputs
from verification.principals import Acting, NotVerifiable, PrincipalActor
from verification.probes import ALLOW, DENY, DENY_OTHER, Observation, ProbeTarget, probe
from verification.readers import check_readers
from verification.report import Report
from verification.settle import AWS_BACKOFF, LOOPBACK_BACKOFF, Backoff, Clock, Settled, settle
from verification.verdicts import MISMATCH, NOT_VERIFIABLE, PASS, AccessRow

AWS_SETTLE_TIMEOUT = 300.0
LOOPBACK_SETTLE_TIMEOUT = 10.0
ENCRYPTION_CONTEXT = {"kmsguard": "verify"}

ProbeHook = Callable[[str, str, Observation], None]


class VerificationUnavailable(Exception):
    """Nothing can be verified (no credentials, endpoint down); the message is one line."""


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__


@dataclass(frozen=True)
class KeySchema:
    """The table's primary key attributes and their types, to build the probe item's key."""

    attributes: tuple[tuple[str, str], ...]

    def key(self, value: str) -> dict[str, Any]:
        key: dict[str, Any] = {}
        for name, kind in self.attributes:
            if kind == "N":
                # Derived from the run id too, so a later run can find it; negative and huge,
                # far from any counter-style id.
                key[name] = {"N": "-" + str(int(value.rsplit("-", 1)[-1][:28], 16))}
            elif kind == "B":
                key[name] = {"B": value.encode()}
            else:
                key[name] = {"S": value}
        return key


def read_key_schema(dynamodb: Any, table_name: str) -> tuple[KeySchema, dict[str, Any]]:
    """The table's key schema, and DescribeTable's `Table` (indexes, stream)."""
    table = dynamodb.describe_table(TableName=table_name)["Table"]
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    ordered = sorted(table["KeySchema"], key=lambda k: k["KeyType"] != "HASH")
    return KeySchema(tuple((k["AttributeName"], types[k["AttributeName"]]) for k in ordered)), table


def _verdict(expected: str, observed: Settled[Observation], action: str) -> tuple[str, str]:
    """(verdict, note). A deny proves a deny only when the key said no, or for DescribeTable."""
    obs = observed.value
    if not observed.stable:
        return NOT_VERIFIABLE, "results did not settle before the deadline"
    if obs.kind == ALLOW:
        return (PASS, "") if expected == Expect.ALLOW else (MISMATCH, "")
    if _matches(Expect.DENY, obs, action):
        return (PASS, "") if expected == Expect.DENY else (MISMATCH, "")
    if obs.kind == DENY_OTHER:
        if expected == Expect.ALLOW:
            return MISMATCH, ""
        return NOT_VERIFIABLE, "denied, but not by the key: the key's protection is not proven"
    return NOT_VERIFIABLE, "the call failed for a reason that is neither allow nor deny"


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
                f"the admin credentials were refused ({_code(exc)}); check AWS_ACCESS_KEY_ID"
            ) from None
        except BotoCoreError as exc:
            where = self.aws.endpoint_url or "AWS"
            raise VerificationUnavailable(f"cannot reach {where}: {_code(exc)}") from None

    def remove_items(self, values: list[str], clients: list[Any]) -> list[str]:
        """Delete probe items by their exact keys; try each client until one succeeds."""
        if self.schema is None:
            return []
        problems = []
        for value in values:
            last = ""
            for client in clients:
                try:
                    client.delete_item(TableName=self.facts.table_name, Key=self.schema.key(value))
                    last = ""
                    break
                except ClientError as exc:
                    if _code(exc) == "ResourceNotFoundException":
                        last = ""
                        break
                    last = _code(exc)
                except BotoCoreError as exc:
                    last = _code(exc)
            if last or not clients:
                problems.append(f"could not delete probe item {value} ({last or 'no client'})")
        return problems

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
            if _code(exc) == "ResourceNotFoundException":
                target_problem = f"the table {self.facts.table_name} does not exist"
            else:
                target_problem = f"cannot read the table's key schema ({_code(exc)})"
        ciphertext: bytes | None = None
        try:
            ciphertext = admin_kms.encrypt(
                KeyId=self.facts.key_arn,
                Plaintext=os.urandom(32),
                EncryptionContext=ENCRYPTION_CONTEXT,
            )["CiphertextBlob"]
        except (ClientError, BotoCoreError) as exc:
            self.notes.append(f"the admin could not encrypt a test blob ({_code(exc)})")
        actor = PrincipalActor(
            self.aws, self.aws.client("iam"), self.aws.client("sts"), self.remove_items
        )
        deadline = start + self.settle_timeout
        rows: list[AccessRow] = []
        for principal, expectations in _by_principal(self.facts.expectations).items():
            if target_problem:
                rows += [_unverifiable(e, target_problem) for e in expectations]
                continue
            rows += self._principal_rows(actor, principal, expectations, ciphertext, deadline)
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

    def _principal_rows(
        self,
        actor: PrincipalActor,
        principal: str,
        expectations: list[Expectation],
        ciphertext: bytes | None,
        deadline: float,
    ) -> list[AccessRow]:
        run_id = new_run_id()
        assert self.schema is not None
        target = ProbeTarget(
            self.facts.table_name,
            self.facts.key_arn,
            self.schema.key(probe_item_value(run_id)),
            ciphertext,
            ENCRYPTION_CONTEXT,
        )
        rows: list[AccessRow] = []
        notes: list[str] = []
        try:
            self.progress(f"acquiring credentials for {principal}")
            with actor.act_as(principal, run_id, lambda sts: self._wait_usable(sts, deadline)) as a:
                notes = a.notes
                puts: list[Observation] = []
                for expectation in expectations:
                    rows.append(self._probe_row(a, expectation, target, deadline, puts))
                rows += self._read_path_rows(a, expectations, run_id, target, deadline, puts)
                a.item_may_exist = any(o.kind not in (DENY, DENY_OTHER) for o in puts)
        except NotVerifiable as exc:
            done = {(r.principal, r.action) for r in rows}
            rows += [
                _unverifiable(e, str(exc))
                for e in expectations
                if (e.principal, e.action) not in done
            ]
        self.notes += [f"{principal}: {n}" for n in notes]
        return rows

    def _wait_usable(self, sts: Any, deadline: float) -> None:
        """New access keys take a few seconds to work on AWS: wait, within the deadline."""

        def attempt() -> str:
            try:
                sts.get_caller_identity()
                return "ok"
            except (ClientError, BotoCoreError) as exc:
                return _code(exc)

        result = settle(
            attempt,
            deadline=deadline,
            clock=self.clock,
            stable_count=1,
            backoff=self.backoff,
            hoped=lambda r: r == "ok",
        )
        if result.value != "ok":
            raise NotVerifiable(f"the temporary credentials never worked ({result.value})")

    def _read_path_rows(
        self,
        acting: Acting,
        expectations: list[Expectation],
        run_id: str,
        target: ProbeTarget,
        deadline: float,
        puts: list[Observation],
    ) -> list[AccessRow]:
        """Every read path on the table, its indexes and stream, expected as the principal's
        GetItem: a read allowed or denied one way must be so every way. The stream's probe
        writes the probe item (its writes join `puts`, for the cleanup)."""
        read = next((e for e in expectations if e.action == "dynamodb:GetItem"), None)
        if read is None or not self.table:
            return []
        value = probe_item_value(run_id)
        probes = read_probes.matrix(
            self.table,
            lambda attrs: KeySchema(attrs).key(value),
            written=puts,
            admin=self.aws.client("dynamodb"),
        )
        streams = self.aws.client("dynamodbstreams", acting.credentials)
        return [
            self._probe_row(
                acting,
                Expectation(read.principal, p.name, read.expect),
                target,
                deadline,
                [],
                lambda p=p: read_probes.observe(p, acting.dynamodb, streams),  # type: ignore[misc]
            )
            for p in probes
        ]

    def _probe_row(
        self,
        acting: Acting,
        expectation: Expectation,
        target: ProbeTarget,
        deadline: float,
        puts: list[Observation],
        call: Callable[[], Observation] | None = None,
    ) -> AccessRow:
        action = expectation.action
        self.progress(f"probing {acting.ref.name}: {action}")
        result = settle(
            call or (lambda: probe(action, acting.dynamodb, acting.kms, target)),
            deadline=deadline,
            clock=self.clock,
            stable_count=self.stable_count,
            backoff=self.backoff,
            hoped=lambda o: _matches(expectation.expect, o, action),
        )
        if action == "dynamodb:PutItem":
            puts.extend(result.history)
        if self.on_probe is not None:
            self.on_probe(expectation.principal, action, result.value)
        verdict, note = _verdict(expectation.expect, result, action)
        detail = note or (result.value.detail if result.value.kind != ALLOW else "")
        return AccessRow(
            principal=expectation.principal,
            action=action,
            expected=expectation.expect,
            observed=result.value.describe(),
            verdict=verdict,
            settle_seconds=round(result.seconds, 3),
            attempts=result.attempts,
            detail=detail,
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


def _matches(expect: str, obs: Observation, action: str) -> bool:
    if expect == Expect.ALLOW:
        return obs.kind == ALLOW
    return obs.kind == DENY or (obs.kind == DENY_OTHER and action == "dynamodb:DescribeTable")


def _unverifiable(e: Expectation, why: str) -> AccessRow:
    return AccessRow(e.principal, e.action, e.expect, "not attempted", NOT_VERIFIABLE, detail=why)


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
