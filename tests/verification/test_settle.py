"""Retry-until-stable with a fake clock: no real sleeping, simulated propagation delays."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from verification.settle import Backoff, Clock, settle


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept.append(seconds)
        self.t += seconds

    def clock(self) -> Clock:
        return Clock(now=self.now, sleep=self.sleep)


def delayed(fake: FakeClock, before: str, after: str, at: float):
    start = fake.t
    return lambda: after if fake.t - start >= at else before


def test_grant_that_propagates_late_settles_on_the_expected_result() -> None:
    fake = FakeClock()
    result = settle(
        delayed(fake, "deny", "allow", 40.0),
        deadline=fake.t + 300,
        clock=fake.clock(),
        stable_count=3,
        backoff=Backoff(0.2, 2.0, 5.0),
        hoped=lambda r: r == "allow",
    )
    assert result.value == "allow"
    assert result.stable
    assert 40.0 <= result.seconds <= 45.0  # first try that saw the change
    assert fake.t - 1000.0 < 60  # stopped soon after, not at the deadline
    assert max(fake.slept) <= 5.0  # bounded backoff


def test_a_mismatch_is_only_declared_at_the_deadline_and_when_stable() -> None:
    fake = FakeClock()
    result = settle(
        lambda: "deny",
        deadline=fake.t + 300,
        clock=fake.clock(),
        stable_count=3,
        hoped=lambda r: r == "allow",
    )
    assert result.value == "deny"
    assert result.stable
    assert fake.t >= 1300.0
    assert result.seconds == 0.0  # it was deny from the first try


def test_flapping_results_are_unstable() -> None:
    fake = FakeClock()
    flip = iter(["a", "b"] * 1000)
    result = settle(lambda: next(flip), deadline=fake.t + 10, clock=fake.clock(), stable_count=2)
    assert not result.stable


def test_at_least_stable_count_tries_even_past_the_deadline() -> None:
    fake = FakeClock()
    calls: list[int] = []

    def probe() -> str:
        calls.append(1)
        return "x"

    result = settle(probe, deadline=fake.t - 1, clock=fake.clock(), stable_count=3)
    assert len(calls) == 3 and result.stable


@given(
    delay=st.floats(min_value=0, max_value=250),
    count=st.integers(min_value=1, max_value=5),
)
def test_any_delay_within_the_deadline_is_waited_out(delay: float, count: int) -> None:
    fake = FakeClock()
    result = settle(
        delayed(fake, "stale", "fresh", delay),
        deadline=fake.t + 300,
        clock=fake.clock(),
        stable_count=count,
        hoped=lambda r: r == "fresh",
    )
    assert result.value == "fresh" and result.stable
    assert delay <= result.seconds <= delay + 5.0
