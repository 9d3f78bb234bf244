"""The back-off between attempts: doubling, jittered, capped (pure, so unit tests)."""

from __future__ import annotations

import random

from fastapi_auth.email.dispatcher import retry_delay

BASE = 5.0
CAP = 3600.0


class Highest(random.Random):
    """Always draws the top of the range, exposing the ceiling the jitter works under."""

    def uniform(self, a: float, b: float) -> float:
        return max(a, b)


def ceiling(attempts: int) -> float:
    return retry_delay(attempts, BASE, CAP, Highest()).total_seconds()


def test_the_ceiling_doubles_with_each_attempt() -> None:
    assert [ceiling(attempts) for attempts in range(1, 7)] == [5, 10, 20, 40, 80, 160]


def test_delays_are_jittered_between_the_base_and_the_ceiling() -> None:
    rng = random.Random(5)
    delays = [retry_delay(4, BASE, CAP, rng).total_seconds() for _ in range(200)]
    assert all(BASE <= delay <= BASE * 2**3 for delay in delays)
    assert len(set(delays)) == len(delays)
    assert min(delays) < 15 < max(delays)


def test_the_first_retry_waits_the_base() -> None:
    assert retry_delay(1, BASE, CAP).total_seconds() == BASE


def test_delays_never_exceed_the_cap() -> None:
    rng = random.Random(7)
    assert ceiling(12) == CAP
    assert all(retry_delay(n, BASE, CAP, rng).total_seconds() <= CAP for n in range(1, 80))


def test_any_number_of_attempts_is_capped_rather_than_overflowing() -> None:
    assert ceiling(5000) == CAP


def test_a_cap_below_the_base_still_caps() -> None:
    assert retry_delay(3, 10.0, 2.0).total_seconds() == 2.0
