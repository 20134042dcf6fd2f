"""GCRA math with a fake clock: bursts, Retry-After, recovery, looking without spending."""

from __future__ import annotations

import pytest

from paylab.core.ratelimit import Decision, gcra


class Bucket:
    def __init__(self, limit: int, period: float) -> None:
        self.limit, self.period, self.tat, self.now = limit, period, None, 0.0

    def hit(self, consume: bool = True) -> Decision:
        decision, tat = gcra(self.tat, self.now, self.limit, self.period, consume=consume)
        self.tat = tat  # what the Lua script stores (unchanged when refused or not consuming)
        return decision


def test_a_full_burst_of_limit_requests_is_allowed_then_refused() -> None:
    bucket = Bucket(limit=5, period=60)
    remaining = [bucket.hit().remaining for _ in range(5)]
    assert remaining == [4, 3, 2, 1, 0]
    refused = bucket.hit()
    assert not refused.allowed and refused.retry_after == pytest.approx(12.0)
    assert refused.retry_after_header == "12"


def test_refusals_do_not_push_the_wait_further() -> None:
    bucket = Bucket(limit=2, period=10)
    bucket.hit(), bucket.hit()
    first = bucket.hit()
    second = bucket.hit()
    assert first.retry_after == second.retry_after == pytest.approx(5.0)


def test_one_request_comes_back_per_interval() -> None:
    bucket = Bucket(limit=6, period=60)
    for _ in range(6):
        bucket.hit()
    bucket.now = 9.99
    assert not bucket.hit().allowed
    bucket.now = 10.0
    assert bucket.hit().allowed
    assert not bucket.hit().allowed


def test_after_a_whole_period_the_bucket_is_full_again() -> None:
    bucket = Bucket(limit=3, period=30)
    for _ in range(3):
        bucket.hit()
    bucket.now = 30.0
    assert [bucket.hit().allowed for _ in range(4)] == [True, True, True, False]


def test_looking_spends_nothing() -> None:
    bucket = Bucket(limit=1, period=60)
    for _ in range(10):
        assert bucket.hit(consume=False).allowed
    assert bucket.hit().allowed
    assert not bucket.hit(consume=False).allowed


def test_retry_after_header_is_at_least_one_second() -> None:
    assert Decision(False, 0, 0.2).retry_after_header == "1"
    assert Decision(False, 0, 1.01).retry_after_header == "2"


@pytest.mark.parametrize(("limit", "period"), [(0, 60), (5, 0), (-1, 60)])
def test_nonsense_limits_are_refused(limit: int, period: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        gcra(None, 0.0, limit, period)
