"""The GCRA Lua script in the real Redis: same math as gcra(), atomic under concurrency."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio as aioredis

from paylab.core.ratelimit import AsyncRateLimiter, RateLimiter
from paylab.core.settings import get_settings


@pytest.fixture
def key() -> Iterator[str]:
    name = f"paylab:it:rl:{uuid.uuid4().hex}"
    yield name
    client = redis.Redis.from_url(get_settings().redis_dsn())
    client.delete(name)
    client.close()


def test_script_matches_the_math_with_an_explicit_clock(key: str) -> None:
    client = redis.Redis.from_url(get_settings().redis_dsn())
    limiter = RateLimiter(client)
    now = 1_000_000.0
    assert [limiter.check(key, 3, 60, now=now).remaining for _ in range(3)] == [2, 1, 0]
    refused = limiter.check(key, 3, 60, now=now)
    assert not refused.allowed and refused.retry_after == pytest.approx(20.0, abs=1e-3)
    assert not limiter.check(key, 3, 60, now=now + 19.9).allowed
    assert limiter.check(key, 3, 60, now=now + 20.0).allowed
    assert 0 < client.pttl(key) <= 60_000  # the key goes away once the bucket refills
    assert not limiter.check(key, 3, 60, consume=False, now=now + 20.0).allowed
    client.close()


def test_concurrent_checks_never_overshoot(key: str) -> None:
    async def run() -> int:
        client = aioredis.Redis.from_url(get_settings().redis_dsn())
        limiter = AsyncRateLimiter(client)
        decisions = await asyncio.gather(*(limiter.check(key, 10, 60) for _ in range(50)))
        await client.aclose()
        return sum(d.allowed for d in decisions)

    assert asyncio.run(run()) == 10
