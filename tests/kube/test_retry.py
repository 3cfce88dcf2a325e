"""RetryPolicy decisions: which failures are repeated, for which requests, after how long."""

from __future__ import annotations

import random

import pytest

from vk_trio.kube import (
    ApiConnectionError,
    ApiError,
    Conflict,
    InternalError,
    NotFound,
    RetryPolicy,
    ServerTimeout,
    TooManyRequests,
)

RNG = random.Random(1)


def decide(
    error: ApiError, *, idempotent: bool, sent: bool = True, attempt: int = 1
) -> float | None:
    return RetryPolicy().delay(error, attempt, idempotent=idempotent, sent=sent, rng=RNG)


@pytest.mark.parametrize("idempotent", [True, False])
def test_429_is_retried_for_everything_after_retry_after(idempotent: bool) -> None:
    assert decide(TooManyRequests("slow down", retry_after=7.0), idempotent=idempotent) == 7.0
    assert decide(TooManyRequests("slow down"), idempotent=idempotent) == 1.0
    assert decide(TooManyRequests("slow down", retry_after=1e6), idempotent=idempotent) == 60.0


def test_unsent_requests_are_retried_for_everything() -> None:
    error = ApiConnectionError("refused")
    assert decide(error, idempotent=False, sent=False) is not None
    assert decide(error, idempotent=True, sent=False) is not None


def test_sent_requests_only_when_idempotent() -> None:
    reset = ApiConnectionError("reset")
    assert decide(reset, idempotent=False) is None
    assert decide(reset, idempotent=True) is not None
    for error in (InternalError("x", status_code=503), ServerTimeout("x", status_code=504)):
        assert decide(error, idempotent=False) is None
        assert decide(error, idempotent=True) is not None


def test_answers_are_not_retried() -> None:
    for error in (
        NotFound("x", status_code=404),
        Conflict("x", status_code=409),
        InternalError("x", status_code=501),
    ):
        assert decide(error, idempotent=True) is None


def test_backoff_grows_with_jitter_and_cap() -> None:
    policy = RetryPolicy(max_attempts=10, backoff_base=0.5, backoff_cap=4.0)
    rng = random.Random(7)
    error = ApiConnectionError("reset")
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0), (9, 4.0)]:
        delays = [
            policy.delay(error, attempt, idempotent=True, sent=True, rng=rng) for _ in range(50)
        ]
        assert all(d is not None and ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered


def test_max_attempts_counts_the_first_try() -> None:
    policy = RetryPolicy(max_attempts=3)
    error = TooManyRequests("x")
    assert policy.delay(error, 2, idempotent=False, sent=True, rng=RNG) is not None
    assert policy.delay(error, 3, idempotent=False, sent=True, rng=RNG) is None
    assert RetryPolicy(max_attempts=1).delay(error, 1, idempotent=True, sent=True, rng=RNG) is None
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
