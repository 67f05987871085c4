"""Repeat a probe with bounded backoff until its result is stable (injectable clock and sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.2
    factor: float = 2.0
    maximum: float = 5.0

    def delays(self) -> Callable[[], float]:
        state = {"next": self.initial}

        def step() -> float:
            delay = state["next"]
            state["next"] = min(self.maximum, delay * self.factor)
            return delay

        return step


AWS_BACKOFF = Backoff(0.2, 2.0, 5.0)
LOOPBACK_BACKOFF = Backoff(0.02, 2.0, 0.25)


@dataclass
class Clock:
    """Time source and sleeper; tests pass a fake one so nothing really sleeps."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class Settled(Generic[T]):
    """`value` is the last result; `stable` says whether the last `stable_count` tries agreed.

    `seconds` is the time from the first try to the first try of the final stable streak: how
    long the probe took to settle.
    """

    value: T
    stable: bool
    attempts: int
    seconds: float
    history: tuple[T, ...] = field(default=())


def settle(
    probe: Callable[[], T],
    *,
    deadline: float,
    clock: Clock,
    stable_count: int = 3,
    backoff: Backoff = AWS_BACKOFF,
    hoped: Callable[[T], bool] | None = None,
) -> Settled[T]:
    """Call `probe` until its result is stable.

    A streak of `stable_count` identical results that `hoped` accepts (the expected outcome)
    ends early. Any other streak could still be propagation lag (a grant not visible yet), so
    probing goes on until `deadline` (a `clock.now()` value); after it, the result is the final
    streak if the last `stable_count` tries agree, else unstable. At least `stable_count` tries
    are always made, even past the deadline.
    """
    if stable_count < 1:
        raise ValueError("stable_count must be at least 1")
    start = clock.now()
    next_delay = backoff.delays()
    history: list[T] = []
    times: list[float] = []
    while True:
        times.append(clock.now())
        history.append(probe())
        streak = _streak(history)
        stable = streak >= stable_count
        value = history[-1]
        past_deadline = clock.now() >= deadline
        if (stable and (hoped is None or hoped(value))) or (
            past_deadline and len(history) >= stable_count
        ):
            settled_at = times[len(history) - streak] - start
            return Settled(value, stable, len(history), settled_at, tuple(history))
        delay = next_delay()
        remaining = deadline - clock.now()
        # Past the deadline, the remaining tries needed for a streak go at the shortest delay.
        clock.sleep(max(0.0, min(delay, remaining)) if remaining > 0 else backoff.initial)


def _streak(history: list[T]) -> int:
    last = history[-1]
    count = 0
    for item in reversed(history):
        if item != last:
            break
        count += 1
    return count
