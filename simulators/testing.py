"""Helpers for tests of code that talks to the simulators (ours and partners')."""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from paylab.core.app import SERVER_KEEP_ALIVE_S
from simulators.callbacks import SIGNATURE_HEADER, verify


@dataclass(frozen=True)
class Received:
    """One callback as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The parsed body."""
        return json.loads(self.body)

    @property
    def signature(self) -> str | None:
        """The X-Sim-Signature header."""
        return self.headers.get(SIGNATURE_HEADER.lower())

    def signed_with(self, secret: str) -> bool:
        """True when the signature verifies with `secret`."""
        return verify(secret, self.body, self.signature)


@dataclass
class CallbackReceiver:
    """An ASGI app that records every POST; answers `status` (settable per test)."""

    status: int = 200
    received: list[Received] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        with self._cond:
            self.received.append(Received(scope["path"], headers, b"".join(chunks)))
            self._cond.notify_all()
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Block until `count` callbacks arrived; AssertionError with what came on timeout."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.received) >= count, timeout)
            if not ok:
                got = [r.body.decode() for r in self.received]
                raise AssertionError(f"expected {count} callbacks in {timeout}s, got {got}")
            return list(self.received)


@contextmanager
def serve(app: ASGIApp, port: int, host: str = "127.0.0.1") -> Iterator[str]:
    """Run `app` under uvicorn in a thread; yields its base URL; stops it on exit."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_keep_alive=SERVER_KEEP_ALIVE_S,  # as the stack's (paylab.core.app)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"server on {host}:{port} did not start")
            thread.join(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def bank_payouts(bank_url: str, references: Collection[str]) -> dict[str, dict[str, Any]]:
    """The payouts the bank simulator answered for these references, by payout id.

    Read from its journal (every POST /v1/payouts answer); keyed by id, a replayed answer
    counts once, so two ids with one reference mean it was paid twice.
    """
    entries = httpx.get(
        f"{bank_url}/_sim/journal",
        params={"kind": "request", "method": "POST", "path": "/v1/payouts", "limit": 5000},
        timeout=30,
    ).json()["entries"]
    answers: dict[str, dict[str, Any]] = {}
    for entry in entries:
        try:
            body = json.loads(entry["response_body"] or "{}")
        except ValueError:
            continue
        if isinstance(body, dict) and body.get("reference") in references:
            answers[str(body["id"])] = body
    return answers
