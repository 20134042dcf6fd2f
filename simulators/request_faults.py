"""How a simulator answers an injected request fault: late, truncated, an error, held, reset.

Also the request-body helpers the middleware shares with it (a body read to decide a fault
is replayed to the app).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paylab.core.problems import PROBLEM_MEDIA_TYPE, problem_body
from simulators.faults import Decision, ErrorEffect, TimeoutEffect
from simulators.journal import Journal


async def read_body(receive: Receive) -> bytes:
    """The whole request body, read from `receive`."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(raw: bytes, receive: Receive) -> Receive:
    """A `receive` that hands out `raw` once more, then the client's own messages."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return replayed


def abort_connection(send: Send) -> bool:
    """Reset the client's TCP connection (RST), if the server exposes its transport."""
    owner = getattr(send, "__self__", None)
    transport: Any = getattr(owner, "transport", None)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    return True


class ConnectionResetByFault(ConnectionResetError):
    """Raised where the server offers no transport to reset (e.g. in-process test clients)."""


class FaultResponder:
    """Answers the requests a fault rule matched, in place of (or around) the app."""

    def __init__(self, app: ASGIApp, journal: Journal) -> None:
        self.app = app
        self.journal = journal

    async def answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        decision: Decision,
        req_chunks: list[bytes],
        started: float,
    ) -> None:
        """Answer as `decision`'s effect says and journal the call."""
        effect = decision.effect
        if not req_chunks:
            raw = await read_body(receive)
            req_chunks.append(raw)
            receive = replay(raw, receive)
        status = 0
        out = b""
        note: str | None = None
        kind = effect.type
        if kind == "latency":
            await asyncio.sleep(decision.delay_ms / 1000)
            status, out = await self._call_app(scope, receive, send, truncate=False)
            note = f"delayed {decision.delay_ms} ms"
        elif kind == "malformed":
            status, out = await self._call_app(scope, receive, send, truncate=True)
        elif isinstance(effect, ErrorEffect):
            status = effect.status
            if effect.body is not None:
                out = json.dumps(effect.body).encode()
                ctype = b"application/json"
            else:
                doc = problem_body(
                    status,
                    "injected-fault",
                    f"Fault rule {decision.rule_id} answered {status}.",
                    title="Injected fault",
                )
                out = json.dumps(doc).encode()
                ctype = PROBLEM_MEDIA_TYPE.encode()
            await _respond(send, status, out, ctype, decision.rule_id)
        elif isinstance(effect, TimeoutEffect):
            if await _wait_for_disconnect(receive, effect.hold_ms / 1000):
                note = "client gave up"
            else:
                status = 504
                doc = problem_body(
                    504,
                    "injected-timeout",
                    f"Fault rule {decision.rule_id} held {effect.hold_ms} ms.",
                    title="Injected timeout",
                )
                out = json.dumps(doc).encode()
                await _respond(send, 504, out, PROBLEM_MEDIA_TYPE.encode(), decision.rule_id)
                note = "held until hold_ms"
        elif kind == "reset":
            note = "connection reset"
            self._journal_fault(scope, decision, req_chunks, 0, b"", started, note)
            if not abort_connection(send):
                raise ConnectionResetByFault(f"fault {decision.rule_id}: connection reset")
            return
        self._journal_fault(scope, decision, req_chunks, status, out, started, note)

    def _journal_fault(
        self,
        scope: Scope,
        decision: Decision,
        req_chunks: list[bytes],
        status: int,
        out: bytes,
        started: float,
        note: str | None,
    ) -> None:
        self.journal.record(
            "request",
            scope["method"],
            scope["path"],
            scope["query_string"].decode("latin-1"),
            b"".join(req_chunks),
            status,
            out,
            (time.perf_counter() - started) * 1000,
            fault_id=decision.rule_id,
            fault_type=decision.kind,
            note=note,
        )

    async def _call_app(
        self, scope: Scope, receive: Receive, send: Send, *, truncate: bool
    ) -> tuple[int, bytes]:
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, buffer)
        body = b"".join(chunks)
        if truncate:
            body = body[: len(body) // 2] if len(body) > 1 else b"{"
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        status = int(start.get("status", 500))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return status, body


async def _respond(send: Send, status: int, body: bytes, ctype: bytes, rule_id: str) -> None:
    headers = [
        (b"content-type", ctype),
        (b"content-length", str(len(body)).encode()),
        (b"x-sim-fault", rule_id.encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _wait_for_disconnect(receive: Receive, limit_s: float) -> bool:
    """True if the client went away before `limit_s`."""

    async def until_disconnect() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return

    try:
        await asyncio.wait_for(until_disconnect(), limit_s)
    except TimeoutError:
        return False
    return True
