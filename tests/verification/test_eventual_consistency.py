"""A grant that takes a simulated 90 s to propagate is waited out, on a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

import verification
from tests.verification.conftest import Deployed, use_admin
from verification import access_rows
from verification.probes import DENY, Observation
from verification.settle import Clock

# One worker runs the module, so its one deployment is made once.
pytestmark = [pytest.mark.sandbox, pytest.mark.xdist_group("verification-granted-once")]


@pytest.fixture(scope="module")
def granted(deployed_once: Deployed) -> Deployed:
    deployed_once.apply(grant=True)
    return deployed_once


@pytest.fixture
def stack(granted: Deployed, monkeypatch: pytest.MonkeyPatch) -> Deployed:
    """The granted stack, shared: these tests only run the verifier, which removes what it adds."""
    use_admin(monkeypatch, granted.sb)
    return granted.shared()


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.t += seconds


def lagging(fake: FakeClock, lag: float) -> Any:
    """Until `lag` fake seconds pass, data actions still see the old key policy (denied)."""
    real = access_rows.probe

    def probe(action: str, dynamodb: Any, kms: Any, target: Any) -> Observation:
        if action.startswith("dynamodb:") and action != "dynamodb:DescribeTable" and fake.t < lag:
            return Observation(DENY, "kms:Decrypt", "stale key policy")
        return real(action, dynamodb, kms, target)

    return probe


def test_late_grant_settles_within_the_deadline(
    stack: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeClock()
    monkeypatch.setattr(access_rows, "probe", lagging(fake, 90.0))
    report = verification.run(
        stack.outputs,
        endpoint_url=stack.sb.endpoint_url,
        settle_timeout=300,
        clock=Clock(now=fake.now, sleep=fake.sleep),
    )
    rows = {r.action: r for r in report.access_rows}
    assert rows["dynamodb:PutItem"].verdict == "pass"
    assert 90.0 <= rows["dynamodb:PutItem"].settle_seconds <= 100.0
    assert rows["dynamodb:PutItem"].attempts > 3
    assert rows["dynamodb:GetItem"].settle_seconds == 0.0  # already propagated by then
    assert fake.t < 150  # stopped once stable, not at the 300 s deadline
    assert stack.leftovers()["keys"] == []


def test_grant_that_never_arrives_is_a_mismatch_after_the_deadline(
    stack: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeClock()
    monkeypatch.setattr(access_rows, "probe", lagging(fake, float("inf")))
    report = verification.run(
        stack.outputs,
        endpoint_url=stack.sb.endpoint_url,
        settle_timeout=300,
        clock=Clock(now=fake.now, sleep=fake.sleep),
    )
    put = next(r for r in report.access_rows if r.action == "dynamodb:PutItem")
    assert (put.verdict, put.observed) == ("MISMATCH", "deny (kms:Decrypt)")
    assert fake.t >= 300
    assert report.exit_code == 1
