"""Access rows: each expected action and every read path, probed as one principal and judged."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmsguard.aws_errors import error_code
from kmsguard.contract import Expect
from verification import read_probes
from verification.aws import Aws
from verification.ledger import new_run_id, probe_item_value
from verification.outputs import Expectation, StackFacts
from verification.principals import Acting, NotVerifiable, PrincipalActor
from verification.probes import ALLOW, DENY, DENY_OTHER, Observation, ProbeTarget, probe
from verification.settle import Backoff, Clock, Settled, settle
from verification.verdicts import MISMATCH, NOT_VERIFIABLE, PASS, AccessRow

ENCRYPTION_CONTEXT = {"kmsguard": "verify"}

ProbeHook = Callable[[str, str, Observation], None]


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


def delete_probe_items(
    table_name: str, schema: KeySchema | None, values: list[str], clients: list[Any]
) -> list[str]:
    """Delete probe items by their exact keys; try each client until one succeeds."""
    if schema is None:
        return []
    problems = []
    for value in values:
        last = ""
        for client in clients:
            try:
                client.delete_item(TableName=table_name, Key=schema.key(value))
                last = ""
                break
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    last = ""
                    break
                last = error_code(exc)
            except BotoCoreError as exc:
                last = error_code(exc)
        if last or not clients:
            problems.append(f"could not delete probe item {value} ({last or 'no client'})")
    return problems


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


def _matches(expect: str, obs: Observation, action: str) -> bool:
    if expect == Expect.ALLOW:
        return obs.kind == ALLOW
    return obs.kind == DENY or (obs.kind == DENY_OTHER and action == "dynamodb:DescribeTable")


def unverifiable(e: Expectation, why: str) -> AccessRow:
    return AccessRow(e.principal, e.action, e.expect, "not attempted", NOT_VERIFIABLE, detail=why)


@dataclass
class Prober:
    """Probes the table and the key as each principal, settling every answer before judging it."""

    facts: StackFacts
    aws: Aws
    schema: KeySchema
    table: dict[str, Any]  # DescribeTable's `Table`: its indexes and stream are read paths too
    stable_count: int
    clock: Clock
    backoff: Backoff
    progress: Callable[[str], None]
    on_probe: ProbeHook | None

    def principal_rows(
        self,
        actor: PrincipalActor,
        principal: str,
        expectations: list[Expectation],
        ciphertext: bytes | None,
        deadline: float,
    ) -> tuple[list[AccessRow], list[str]]:
        """The principal's rows, and the notes its credentials' acquisition and cleanup left."""
        run_id = new_run_id()
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
                unverifiable(e, str(exc))
                for e in expectations
                if (e.principal, e.action) not in done
            ]
        return rows, [f"{principal}: {n}" for n in notes]

    def _wait_usable(self, sts: Any, deadline: float) -> None:
        """New access keys take a few seconds to work on AWS: wait, within the deadline."""

        def attempt() -> str:
            try:
                sts.get_caller_identity()
                return "ok"
            except (ClientError, BotoCoreError) as exc:
                return error_code(exc)

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
