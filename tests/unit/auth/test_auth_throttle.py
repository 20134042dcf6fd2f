"""Login throttling: failures per key and per IP, checked without spending, fake clock."""

from __future__ import annotations

from paylab.auth.settings import AuthSettings
from paylab.auth.throttle import LoginThrottle
from paylab.core.ratelimit import Decision, gcra


class FakeLimiter:
    """RateLimiter's interface on gcra() with a dict and a hand-moved clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.tats: dict[str, float] = {}

    def check(
        self, key: str, limit: int, period: float, *, consume: bool = True, now: float | None = None
    ) -> Decision:
        decision, tat = gcra(self.tats.get(key), self.now, limit, period, consume=consume)
        if consume and decision.allowed:
            self.tats[key] = tat
        return decision


def throttle(limiter: FakeLimiter, **overrides: float) -> LoginThrottle:
    settings = AuthSettings(
        login_failures_per_key=3,
        login_failures_per_key_period_seconds=90,
        login_failures_per_ip=5,
        login_failures_per_ip_period_seconds=60,
        **overrides,
    )
    return LoginThrottle(limiter, settings)  # type: ignore[arg-type]


def test_failures_per_key_throttle_that_key_only() -> None:
    limiter = FakeLimiter()
    t = throttle(limiter)
    for _ in range(3):
        assert t.check("pub_a", "1.1.1.1") is None
        t.record_failure("pub_a", "1.1.1.1")
    refused = t.check("pub_a", "2.2.2.2")
    assert refused is not None and refused.retry_after_header == "30"
    assert t.check("pub_b", "2.2.2.2") is None
    limiter.now += 30
    assert t.check("pub_a", "2.2.2.2") is None


def test_failures_per_ip_throttle_across_keys() -> None:
    limiter = FakeLimiter()
    t = throttle(limiter)
    for n in range(5):
        t.record_failure(f"pub_{n}", "9.9.9.9")
    refused = t.check("pub_new", "9.9.9.9")
    assert refused is not None and refused.retry_after_header == "12"
    assert t.check("pub_new", "8.8.8.8") is None


def test_checking_spends_nothing() -> None:
    limiter = FakeLimiter()
    t = throttle(limiter)
    for _ in range(50):
        assert t.check("pub_a", "1.1.1.1") is None
    assert limiter.tats == {}


def test_caller_strings_never_become_redis_keys() -> None:
    limiter = FakeLimiter()
    throttle(limiter).record_failure("pub_a\r\n*", "::1")
    assert all(":" in k and "\r" not in k and "*" not in k for k in limiter.tats)
