"""Login brute-force throttling: failed logins per public key and per client IP (GCRA, Redis).

Only failures count, so a merchant's healthy logins never throttle it; a refused attempt is
answered 429 before the keys are checked, so a throttled caller learns nothing. Because
public keys are public, anyone can spend a merchant's failure budget; the budget therefore
throttles (one more attempt per period/limit) rather than locks out, and private keys carry
256 bits, so the throttle is defence in depth, not what keeps keys safe. The check and the
count are separate calls: concurrent attempts may overshoot a limit by the concurrency.
Redis down means no login (fail closed): an unthrottled login endpoint is not an option.
"""

from __future__ import annotations

import hashlib

from paylab.auth.settings import AuthSettings
from paylab.core.ratelimit import Decision, RateLimiter


class LoginThrottle:
    """Per-key and per-IP budgets of failed logins."""

    def __init__(self, limiter: RateLimiter, settings: AuthSettings) -> None:
        self._limiter = limiter
        self._s = settings

    def _keys(self, public_key: str, client_ip: str) -> list[tuple[str, int, float]]:
        # Hashed, so caller-chosen strings never become Redis key names.
        def h(value: str) -> str:
            return hashlib.sha256(value.encode()).hexdigest()[:32]

        prefix = self._s.redis_key_prefix
        return [
            (
                f"{prefix}login-fail:key:{h(public_key)}",
                self._s.login_failures_per_key,
                self._s.login_failures_per_key_period_seconds,
            ),
            (
                f"{prefix}login-fail:ip:{h(client_ip)}",
                self._s.login_failures_per_ip,
                self._s.login_failures_per_ip_period_seconds,
            ),
        ]

    def check(self, public_key: str, client_ip: str) -> Decision | None:
        """The refusal with the longest wait when a budget is spent, else None."""
        refusals = [
            d
            for key, limit, period in self._keys(public_key, client_ip)
            if not (d := self._limiter.check(key, limit, period, consume=False)).allowed
        ]
        return max(refusals, key=lambda d: d.retry_after) if refusals else None

    def record_failure(self, public_key: str, client_ip: str) -> None:
        """Spend one unit of both budgets."""
        for key, limit, period in self._keys(public_key, client_ip):
            self._limiter.check(key, limit, period)
