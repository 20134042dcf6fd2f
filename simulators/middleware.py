"""Pure ASGI middleware: applies request faults and journals every call (the hot path)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paylab.core.problems import PROBLEM_MEDIA_TYPE, problem_body
from simulators.api_keys import GUARDED_PREFIX, ApiKeys, presented_key, refuse
from simulators.faults import Decision, ErrorEffect, FaultEngine, TimeoutEffect, parse_body
from simulators.journal import Journal

#: Paths that are neither faulted nor journaled: the control plane must always answer.
CONTROL_PREFIXES = ("/_sim/", "/openapi.json", "/docs", "/redoc")


def _content_type(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"content-type":
            return str(value.decode("latin-1"))
    return ""


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


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


#: A hot-path handler: raw body and headers in, (status, JSON bytes) out, or None to let the
#: FastAPI route answer instead (used for anything unusual, so both give the same answers).
FastHandler = Callable[[bytes, Scope], Awaitable[tuple[int, bytes] | None]]
_JSON_HEADERS = (b"content-type", b"application/json")


class SimMiddleware:
    """Faults first, then the app; the journal gets one entry per call."""

    def __init__(
        self,
        app: ASGIApp,
        faults: FaultEngine,
        journal: Journal,
        fast_routes: dict[tuple[str, str], FastHandler] | None = None,
        api_keys: ApiKeys | None = None,
    ) -> None:
        self.app = app
        self.faults = faults
        self.journal = journal
        self.fast_routes = fast_routes or {}
        self.api_keys = api_keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIXES):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        req_chunks: list[bytes] = []
        decision: Decision | None = None

        # The key is checked before faults, as a partner's gateway would: a refused caller
        # never reaches the partner, faulty or not.
        keys = self.api_keys
        if (
            keys is not None
            and keys.configured
            and path.startswith(GUARDED_PREFIX)
            and keys.check(presented_key(scope["headers"])) is None
        ):
            await refuse(scope, send, self.journal, started)
            return

        if self.faults.has_request_rules:
            if self.faults.request_rules_need_body:
                raw = await _read_body(receive)
                req_chunks.append(raw)
                receive = _replay(raw, receive)
                ctype = _content_type(scope)
                cache: list[Any] = []

                def body() -> Any:
                    if not cache:
                        cache.append(parse_body(raw, ctype))
                    return cache[0]

                decision = self.faults.decide("request", method, path, body)
            else:
                decision = self.faults.decide("request", method, path, _no_body)

        if decision is not None:
            await self._faulted(scope, receive, send, decision, req_chunks, started)
            return

        fast = self.fast_routes.get((method, path))
        if fast is not None:
            raw = req_chunks[0] if req_chunks else await _read_body(receive)
            answer = await fast(raw, scope)
            if answer is not None:
                status, out = answer
                await send(
                    {
                        "type": "http.response.start",
                        "status": status,
                        "headers": [
                            (b"content-length", str(len(out)).encode()),
                            _JSON_HEADERS,
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": out})
                self.journal.record(
                    "request",
                    method,
                    path,
                    scope["query_string"].decode("latin-1"),
                    raw,
                    status,
                    out,
                    (time.perf_counter() - started) * 1000,
                )
                return
            if not req_chunks:
                req_chunks.append(raw)
                receive = _replay(raw, receive)

        status = 0
        resp_chunks: list[bytes] = []

        async def receive_tap() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                req_chunks.append(message.get("body", b""))
            return message

        async def send_tap(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                resp_chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive_tap if not req_chunks else receive, send_tap)
        finally:
            self.journal.record(
                "request",
                method,
                path,
                scope["query_string"].decode("latin-1"),
                b"".join(req_chunks),
                status,
                b"".join(resp_chunks),
                (time.perf_counter() - started) * 1000,
            )

    async def _faulted(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        decision: Decision,
        req_chunks: list[bytes],
        started: float,
    ) -> None:
        effect = decision.effect
        if not req_chunks:
            raw = await _read_body(receive)
            req_chunks.append(raw)
            receive = _replay(raw, receive)
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


def _no_body() -> Any:
    return None


def _replay(raw: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return replay


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
