"""The gateway's cached credentials: a rotated operator key works at once, wrong keys cost
at most one Secrets Manager read a second."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient

from paylab.gateway.keys import CachedKey
from paylab.gateway.ops import OPS_KEY_HEADER, handle_ops


class Secret:
    """What Secrets Manager holds; counts the reads that bypassed the reader's cache."""

    def __init__(self, value: str) -> None:
        self.value, self.reads, self.fresh_reads = value, 0, 0

    def __call__(self, *, refresh: bool = False) -> str:
        self.reads += 1
        self.fresh_reads += refresh
        return self.value


def test_the_value_is_cached_for_its_ttl_and_fresh_reads_are_spaced() -> None:
    secret = Secret("k1")
    key = CachedKey(ttl=30.0, fetch=secret, min_refresh=60.0)

    async def go() -> list[str]:
        first, again = await key(), await key()
        secret.value = "k2"
        # A cached read a moment ago does not hold a fresh one back; a fresh one does.
        fresh = await key.fresh()
        secret.value = "k3"
        return [first, again, fresh, await key(), await key.fresh()]

    assert anyio.run(go) == ["k1", "k1", "k2", "k2", "k2"]
    assert (secret.reads, secret.fresh_reads) == (2, 1)
    key = CachedKey(ttl=30.0, fetch=secret, min_refresh=0.0)

    async def rotated() -> list[str]:
        return [await key(), await key.fresh()]

    secret.value = "k4"
    assert anyio.run(rotated) == ["k4", "k4"]
    assert secret.fresh_reads == 2


def _ops_app(key: CachedKey, invoked: list[str]) -> TestClient:
    app = FastAPI()

    def invoke(action: str, queue: str) -> dict[str, Any]:
        invoked.append(queue)
        return {"queues": [{"queue": queue, "redriven": 0, "parked": 0}]}

    @app.post("/{path:path}")
    async def ops(request: Request) -> Response:
        return await handle_ops(request, request.url.path, key, invoke=invoke, fresh=key.fresh)

    return TestClient(app)


def test_a_rotated_operator_key_is_accepted_at_once_and_the_old_one_refused() -> None:
    secret = Secret("old-key")
    key = CachedKey(ttl=300.0, fetch=secret, min_refresh=0.0)
    invoked: list[str] = []
    client = _ops_app(key, invoked)
    path = "/v1/ops/dlq/audit-ops/redrive"
    assert client.post(path, headers={OPS_KEY_HEADER: "old-key"}).status_code == 200
    secret.value = "new-key"  # rotated: the cache (300 s) still holds the old one
    assert client.post(path, headers={OPS_KEY_HEADER: "new-key"}).status_code == 200
    assert client.post(path, headers={OPS_KEY_HEADER: "old-key"}).status_code == 403
    assert invoked == ["audit-ops", "audit-ops"]


@pytest.mark.parametrize("wrong", ["guess-1", "guess-2", "guess-3"])
def test_wrong_keys_do_not_read_the_secret_each_time(wrong: str) -> None:
    secret = Secret("the-key")
    key = CachedKey(ttl=300.0, fetch=secret, min_refresh=60.0)
    client = _ops_app(key, [])
    for _ in range(5):
        response = client.post("/v1/ops/dlq/audit-ops/redrive", headers={OPS_KEY_HEADER: wrong})
        assert response.status_code == 403
    # The first read and one fresh read (the first mismatch); none more within min_refresh.
    assert (secret.reads, secret.fresh_reads) == (2, 1)


def test_a_slow_cached_read_does_not_overwrite_a_fresh_one() -> None:
    """A TTL read that began before a fresh read and ends after it returns the old value
    from the reader's cache: the fresh value must stand."""
    began, release = anyio.Event(), anyio.Event()
    secret = Secret("new")

    def fetch(*, refresh: bool = False) -> str:
        if refresh:
            return secret(refresh=True)
        anyio.from_thread.run_sync(began.set)
        anyio.from_thread.run(release.wait)  # the slow read, answering what its cache held
        return "old"

    key = CachedKey(ttl=0.0, fetch=fetch, min_refresh=60.0)

    async def go() -> list[str]:
        seen: list[str] = []
        async with anyio.create_task_group() as tasks:

            async def slow() -> None:
                seen.append(await key())

            tasks.start_soon(slow)
            await began.wait()
            seen.append(await key.fresh())
            release.set()
        return [*seen, await key.fresh()]

    assert anyio.run(go) == ["new", "new", "new"]
