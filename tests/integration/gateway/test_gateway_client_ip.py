"""The stack's gateway takes the client's address from the connection, not from its headers.

uvicorn trusts X-Forwarded-For from 127.0.0.1 by default, and every local client connects
from there: a new forged value per request would put each in a bucket of its own and dodge
every per-IP limit (anonymous requests, login failures, signups). `up` starts the gateway
with `--no-proxy-headers`; this checks the running one.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from paylab.core.settings import get_settings

pytestmark = pytest.mark.stack
GATEWAY = "http://127.0.0.1:8080"
ANONYMOUS_LIMIT = 60  # GatewaySettings.anonymous_rate_limit_per_minute's default
BUCKETS = "paylab:gateway:ip:127.0.0.1*"  # GatewaySettings.redis_key_prefix + "ip:" + address


@pytest.fixture
def loopback_budget_restored() -> Iterator[None]:
    """127.0.0.1's anonymous budget, given back afterwards: other tests log in from there."""
    store = redis.Redis.from_url(get_settings().redis_dsn())
    yield
    for key in store.scan_iter(match=BUCKETS):
        store.delete(key)
    store.close()


@pytest.mark.usefixtures("loopback_budget_restored")
def test_a_new_x_forwarded_for_per_request_does_not_dodge_the_per_ip_limit() -> None:
    codes = []
    with httpx.Client(base_url=GATEWAY, timeout=10.0) as client:  # from 127.0.0.1
        for n in range(ANONYMOUS_LIMIT + 5):
            forged = {"X-Forwarded-For": f"203.0.113.{n + 1}"}
            # An operator route without the operator key: anonymous, answered by the gateway.
            codes.append(client.get("/v1/ops/dlq", headers=forged).status_code)
            if codes[-1] == 429:
                break
    assert codes[-1] == 429, f"never limited: {sorted(set(codes))} over {len(codes)} requests"
