"""The audit of a deployed reference program reports what kmsguard-preview reports for its plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from demo.engine import SandboxEngine, StackState
from kmsguard.audit.findings import KEY_ACCESS, PLAN_ONLY, UNREADABLE
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


@pytest.mark.parametrize("case", sorted(CASES))
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
            **CASES[case],
        }
        engine = SandboxEngine(client, sb.region, StackState(), preview=False)
        run = run_program(config, preview=False, mocks=engine)
        planned = _preview(run)
        mine = {a for r in run.resources if (a := _arn(r, run))}
        out = tmp_path / "audit.json"
        code = audit(sb, monkeypatch, "--json", str(out))
    audited = {
        (f["rule"], f["resource"], f["level"])
        for f in findings(out)
        if f["resource"] in mine and f["rule"] not in (KEY_ACCESS, UNREADABLE)
    }
    assert planned, "the reference program draws findings (deletion protection at least)"
    skipped = {p for p in planned if p[0] in PLAN_ONLY}
    assert bool(skipped) == (case == "weakened")
    assert audited == planned - skipped
    mandatory = any(level == "mandatory" for _, _, level in audited)
    assert mandatory == (case == "weakened")
    assert code == (1 if mandatory else 0)
