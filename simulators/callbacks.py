"""Signed callbacks (PSE confirmations, SMS receipts), journaled and subject to callback faults."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from simulators.faults import Decision, FaultEngine, ReorderEffect
from simulators.journal import Journal
from simulators.seeding import SeededRandom

SIGNATURE_HEADER = "X-Sim-Signature"
EVENT_ID_HEADER = "X-Sim-Event-Id"


def sign(secret: str, body: bytes) -> str:
    """The signature header value: `sha256=` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of a signature header, for receivers."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


@dataclass
class CallbackConfig:
    """Delivery settings, editable through /_sim/config."""

    secret: str
    max_attempts: int = 3
    backoff_ms: int = 200
    timeout_ms: int = 5_000


@dataclass(slots=True)
class _Delivery:
    url: str
    event_id: str
    body: bytes
    decision: Decision | None


@dataclass
class CallbackSender:
    """Delivers callbacks in the background, one task each; `drain()` waits for them."""

    name: str
    faults: FaultEngine
    journal: Journal
    rng: SeededRandom
    config: CallbackConfig
    client: httpx.AsyncClient | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _held: list[tuple[_Delivery, asyncio.TimerHandle, asyncio.Future[None]]] = field(
        default_factory=list
    )
    _owns_client: bool = False

    def _http(self) -> httpx.AsyncClient:
        if self.client is None:
            self.client = httpx.AsyncClient()
            self._owns_client = True
        return self.client

    def send(self, url: str, event: str, payload: dict[str, Any]) -> str:
        """Queue a signed POST of `payload` to `url`; returns the event id."""
        event_id = self.rng.new_id("evt")
        body = json.dumps(
            {"event_id": event_id, "event": event, "data": payload}, separators=(",", ":")
        ).encode()
        parts = urlsplit(url)
        parsed = {"event": event, **payload}
        decision = self.faults.decide("callback", "POST", parts.path or "/", lambda: parsed)
        delivery = _Delivery(url, event_id, body, decision)
        self._spawn(self._run(delivery))
        return event_id

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, d: _Delivery) -> None:
        decision = d.decision
        kind = decision.kind if decision else None
        if decision is not None and kind == "drop":
            self._journal(d, 0, b"", 0.0, note="dropped: never sent")
            return
        if decision is not None and isinstance(decision.effect, ReorderEffect):
            loop = asyncio.get_running_loop()
            handle = loop.call_later(decision.effect.hold_ms / 1000, self._release_one, d)
            released: asyncio.Future[None] = loop.create_future()
            self._held.append((d, handle, released))
            await released  # keeps drain() waiting while the callback is held back
            return
        if decision is not None and kind == "delay":
            await asyncio.sleep(decision.delay_ms / 1000)
        copies = 1 + (
            decision.effect.copies if decision and decision.effect.type == "duplicate" else 0
        )
        for copy in range(copies):
            await self._deliver(d, note=f"copy {copy + 1} of {copies}" if copies > 1 else None)
        self._release_held()

    def _release_one(self, d: _Delivery) -> None:
        for item in [x for x in self._held if x[0] is d]:
            self._held.remove(item)
            self._spawn(self._deliver(d, note="reordered: released after hold_ms"))
            if not item[2].done():
                item[2].set_result(None)

    def _release_held(self) -> None:
        held, self._held = self._held, []
        for d, handle, released in held:
            handle.cancel()
            self._spawn(self._deliver(d, note="reordered: sent after a later callback"))
            if not released.done():
                released.set_result(None)

    async def _deliver(self, d: _Delivery, note: str | None = None) -> None:
        secret = self.config.secret
        if d.decision is not None and d.decision.kind == "bad_signature":
            secret = "not-" + secret
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: sign(secret, d.body),
            EVENT_ID_HEADER: d.event_id,
            "X-Sim-Simulator": self.name,
            "user-agent": f"paylab-sim-{self.name}",
        }
        for attempt in range(1, self.config.max_attempts + 1):
            headers["X-Sim-Attempt"] = str(attempt)
            started = time.perf_counter()
            try:
                resp = await self._http().post(
                    d.url, content=d.body, headers=headers, timeout=self.config.timeout_ms / 1000
                )
            except httpx.HTTPError as exc:
                elapsed = (time.perf_counter() - started) * 1000
                self._journal(d, 0, b"", elapsed, note=_join(note, f"attempt {attempt}: {exc!r}"))
            else:
                elapsed = (time.perf_counter() - started) * 1000
                self._journal(
                    d,
                    resp.status_code,
                    resp.content,
                    elapsed,
                    note=_join(note, f"attempt {attempt}"),
                )
                if resp.status_code < 500 and resp.status_code != 429:
                    return
            if attempt < self.config.max_attempts:
                await asyncio.sleep(self.config.backoff_ms * (2 ** (attempt - 1)) / 1000)

    def _journal(
        self, d: _Delivery, status: int, out: bytes, ms: float, *, note: str | None
    ) -> None:
        decision = d.decision
        self.journal.record(
            "callback",
            "POST",
            urlsplit(d.url).path or "/",
            urlsplit(d.url).query,
            d.body,
            status,
            out,
            ms,
            fault_id=decision.rule_id if decision else None,
            fault_type=decision.kind if decision else None,
            url=d.url,
            event_id=d.event_id,
            note=note,
        )

    @property
    def pending(self) -> int:
        """Callbacks not yet delivered (including held ones)."""
        return len(self._tasks)

    async def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued callback is delivered; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return True

    async def cancel_all(self) -> None:
        """Forget queued callbacks (on reset)."""
        for _, handle, _released in self._held:
            handle.cancel()
        self._held.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Cancel pending work and close the HTTP client we opened."""
        await self.cancel_all()
        if self._owns_client and self.client is not None:
            await self.client.aclose()
            self.client = None


def _join(a: str | None, b: str) -> str:
    return f"{a}; {b}" if a else b
