"""Pure ASGI middleware: applies request faults and journals every call (the hot path)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulators.api_keys import GUARDED_PREFIX, ApiKeys, presented_key, refuse
from simulators.faults import Decision, FaultEngine, parse_body
from simulators.journal import Journal
from simulators.request_faults import FaultResponder, read_body, replay

#: Paths that are neither faulted nor journaled: the control plane must always answer.
CONTROL_PREFIXES = ("/_sim/", "/openapi.json", "/docs", "/redoc")


def _content_type(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"content-type":
            return str(value.decode("latin-1"))
    return ""


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
        self.faulted = FaultResponder(app, journal)
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
                raw = await read_body(receive)
                req_chunks.append(raw)
                receive = replay(raw, receive)
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
            await self.faulted.answer(scope, receive, send, decision, req_chunks, started)
            return

        fast = self.fast_routes.get((method, path))
        if fast is not None:
            raw = req_chunks[0] if req_chunks else await read_body(receive)
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
                receive = replay(raw, receive)

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


def _no_body() -> Any:
    return None
