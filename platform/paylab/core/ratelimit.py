"""Rate limits in Redis with GCRA (the generic cell rate algorithm), shared by gateway and auth.

GCRA is a token bucket kept as one number per key, the "theoretical arrival time" (TAT):
`limit` requests per `period` with a burst of `limit`, O(1) memory, exact Retry-After, and
one atomic Lua call per request. `gcra()` is the math (unit-tested with a fake clock); the
Lua script is the same math run inside Redis so concurrent gateways never race.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis


@dataclass(frozen=True)
class Decision:
    """The outcome of one rate-limit check."""

    allowed: bool
    remaining: int
    retry_after: float  # seconds until one more request would be allowed (0 when allowed)

    @property
    def retry_after_header(self) -> str:
        """Retry-After as whole seconds, never 0 for a refusal."""
        return str(max(1, math.ceil(self.retry_after)))


def gcra(
    tat: float | None, now: float, limit: int, period: float, *, consume: bool = True
) -> tuple[Decision, float]:
    """One check at `now` given the stored TAT; returns the decision and the TAT to store."""
    if limit <= 0 or period <= 0:
        raise ValueError("limit and period must be positive")
    interval = period / limit
    base = max(tat if tat is not None else now, now)
    new_tat = base + interval
    allow_at = new_tat - period
    if now < allow_at:
        return Decision(False, 0, allow_at - now), base
    remaining = math.floor((period - (new_tat - now)) / interval + 1e-9)
    return Decision(True, max(0, remaining), 0.0), new_tat if consume else base


# KEYS[1] the TAT key; ARGV: limit, period (s), consume (1|0), now (s, "" = Redis TIME).
# Same arithmetic as gcra(); the key expires when the bucket is full again.
_LUA = """
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local consume = ARGV[3] == "1"
local now
if ARGV[4] == "" then
  local t = redis.call("TIME")
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[4])
end
local interval = period / limit
local tat = tonumber(redis.call("GET", KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if now < allow_at then
  return {0, 0, tostring(allow_at - now)}
end
local remaining = math.floor((period - (new_tat - now)) / interval + 1e-9)
if consume then
  local ttl = math.ceil((new_tat - now) * 1000)
  redis.call("SET", KEYS[1], tostring(new_tat), "PX", ttl)
end
return {1, remaining, "0"}
"""


def _decision(raw: Any) -> Decision:
    allowed, remaining, retry_after = raw
    return Decision(bool(int(allowed)), max(0, int(remaining)), float(retry_after))


def _args(limit: int, period: float, consume: bool, now: float | None) -> list[str]:
    if limit <= 0 or period <= 0:
        raise ValueError("limit and period must be positive")
    return [
        str(limit),
        repr(float(period)),
        "1" if consume else "0",
        "" if now is None else repr(now),
    ]


class RateLimiter:
    """GCRA limits in Redis (sync client); `now=None` uses the Redis server's clock."""

    def __init__(self, client: redis.Redis) -> None:
        self._script = client.register_script(_LUA)

    def check(
        self, key: str, limit: int, period: float, *, consume: bool = True, now: float | None = None
    ) -> Decision:
        """Count one request under `key` (or only look, with consume=False)."""
        return _decision(self._script(keys=[key], args=_args(limit, period, consume, now)))


class AsyncRateLimiter:
    """GCRA limits in Redis (asyncio client); `now=None` uses the Redis server's clock."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._script = client.register_script(_LUA)

    async def check(
        self, key: str, limit: int, period: float, *, consume: bool = True, now: float | None = None
    ) -> Decision:
        """Count one request under `key` (or only look, with consume=False)."""
        raw = await self._script(keys=[key], args=_args(limit, period, consume, now))
        return _decision(raw)
