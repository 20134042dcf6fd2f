"""The FastAPI app every service starts from: problem+json errors, request ids, health."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import structlog
from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paylab.core.logging import configure_logging
from paylab.core.problems import install_problem_handlers

REQUEST_ID = "x-request-id"
CORRELATION_ID = "x-correlation-id"
# How long our servers (services and simulators) keep an idle connection open. Longer than
# any of our clients keeps one (httpx: 5 s) and than AWS load balancers' 60 s idle timeout:
# the client always closes first, so a request never races the server closing its connection.
# uvicorn's default, 5 s, equals httpx's expiry, and a request after 5 s idle could be lost.
SERVER_KEEP_ALIVE_S = 65


class RequestIdMiddleware:
    """Pass request and correlation ids on: from the caller's headers, or new ones (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = _clean(headers.get(REQUEST_ID)) or str(uuid.uuid4())
        correlation_id = _clean(headers.get(CORRELATION_ID)) or request_id
        scope.setdefault("state", {})
        scope["state"].update(request_id=request_id, correlation_id=correlation_id)
        structlog.contextvars.bind_contextvars(request_id=request_id, correlation_id=correlation_id)

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (REQUEST_ID.encode(), request_id.encode()),
                    (CORRELATION_ID.encode(), correlation_id.encode()),
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        finally:
            structlog.contextvars.unbind_contextvars("request_id", "correlation_id")


def _clean(value: str | None) -> str | None:
    """Accept a caller's id only when it is short and printable (it goes into logs)."""
    if value and len(value) <= 128 and value.isprintable():
        return value
    return None


def create_app(
    service: str, routers: Sequence[APIRouter], *, title: str, version: str = "1.0.0"
) -> FastAPI:
    """A service's FastAPI app with Paylab's error format, ids, logging and `/health`."""
    configure_logging(service)
    app = FastAPI(title=title, version=version)
    install_problem_handlers(app)
    for router in routers:
        app.include_router(router)

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok", "service": service}

    app.add_middleware(RequestIdMiddleware)
    return app
