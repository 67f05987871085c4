"""The audit of a deployed reference program reports what kmsguard-preview reports for its plan."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from demo.engine import SandboxEngine, StackState
from kmsguard.audit.findings import KEY_ACCESS, PLAN_ONLY, READERS, UNREADABLE
from kmsguard.audit.judge import READERS_RULE
from kmsguard.contract import AwsType
from kmsguard.preview.analyzer import PolicyPackClient
from kmsguard.preview.collect import ProgramRun, RegisteredResource, run_program
from kmsguard.preview.report import judge
from sandbox import running
from tests.audit.conftest import audit, findings

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def _arn(r: RegisteredResource, run: ProgramRun) -> str | None:
    """The ARN the audit files a finding on the resource under: its own, its holder's for an
    attachment, its key's for an alias."""
    if r.type == AwsType.IAM_USER_POLICY_ATTACHMENT:
        user = next(u for u in run.resources if u.type == AwsType.IAM_USER)
        return str(user.outputs["arn"])
    if r.type == AwsType.KMS_ALIAS:
        return str(r.outputs.get("targetKeyArn") or "") or None
    arn = r.outputs.get("arn")
    return str(arn) if arn else None


def _preview(run: ProgramRun) -> set[tuple[str, str, str]]:
    by_urn = run.by_urn()
    with PolicyPackClient(preview=False) as client:
        outcome = judge(run, [client], [client.describe()])
    out = set()
    for v in outcome.violations:
        arn = _arn(by_urn[v.urn], run)
        assert arn, v
        out.add((v.policy_name, arn, "deferred" if v.deferred else v.enforcement_level))
    return out


SHARED = "shared-by-table-policy"
PARTNER = "444455556666"
CASES = {
    "denied": {"grantTestUserKeyAccess": False},
    "granted": {"grantTestUserKeyAccess": True},
    # Mandatory and advisory findings: rotation period above the pack's maximum, no PITR, a
    # short deletion window (judged by the preview only: the audit skips that plan-only rule).
    "weakened": {
        "grantTestUserKeyAccess": True,
        "keyRotationPeriodDays": 2000,
        "pointInTimeRecovery": False,
        "keyDeletionWindowDays": 7,
    },
}


def _sharing(table_arn: str) -> Callable[[], None]:
    """The reference program plus a table policy sharing its table with another account."""

    def program() -> None:
        import pulumi
        import pulumi_aws as aws

        from kmsguard.program import main

        tables: list[Any] = []

        def keep(args: pulumi.ResourceTransformationArgs) -> None:
            if args.type_ == AwsType.DYNAMODB_TABLE:
                tables.append(args.resource)

        pulumi.runtime.register_stack_transformation(keep)
        main()
        doc = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{PARTNER}:root"},
                    "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                    "Resource": table_arn,
                }
            ],
        }
        # Through the table's output: the policy waits for the table, as the engine does.
        arn = tables[0].arn
        aws.dynamodb.ResourcePolicy("share", resource_arn=arn, policy=json.dumps(doc))

    return program


@pytest.mark.parametrize("case", [*sorted(CASES), SHARED])
def test_the_audit_equals_the_preview_on_the_reference_program(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running() as sb:
        clients: dict[str, Any] = {}

        def client(service: str) -> Any:
            return clients.setdefault(service, sb.client(service))

        config = {
            "aws:region": sb.region,
            "aws:allowedAccountIds": json.dumps([sb.account_id]),
            **CASES.get(case, {"grantTestUserKeyAccess": True}),
        }
        table = f"arn:aws:dynamodb:{sb.region}:{sb.account_id}:table/kms-protected-table"
        program = _sharing(table) if case == SHARED else None
        engine = SandboxEngine(client, sb.region, StackState(), preview=False)
        run = run_program(config, preview=False, mocks=engine, program=program)
        planned = _preview(run)
        if case == SHARED:
            shared = {p for p in planned if p[:2] == (READERS_RULE, table)}
            assert shared == {(READERS_RULE, table, "mandatory")}
        mine = {a for r in run.resources if (a := _arn(r, run))}
        out = tmp_path / "audit.json"
        code = audit(sb, monkeypatch, "--json", str(out))
    audited = {
        (f["rule"], f["resource"], f["level"])
        for f in findings(out)
        if f["resource"] in mine and f["rule"] not in (KEY_ACCESS, READERS, UNREADABLE)
    }
    assert planned, "the reference program draws findings (deletion protection at least)"
    skipped = {p for p in planned if p[0] in PLAN_ONLY}
    assert bool(skipped) == (case == "weakened")
    assert audited == planned - skipped
    mandatory = any(level == "mandatory" for _, _, level in audited)
    assert mandatory == (case in ("weakened", SHARED))
    assert code == (1 if mandatory else 0)
