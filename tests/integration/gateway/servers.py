"""Real HTTP servers for the gateway to talk to: an ASGI app on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from paylab.core.app import SERVER_KEEP_ALIVE_S

from ..waiting import wait_until


class ServerThread:
    """uvicorn serving `app` in a thread on 127.0.0.1 and an ephemeral port."""

    def __init__(self, app: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=3,
            timeout_keep_alive=SERVER_KEEP_ALIVE_S,  # as the stack's services
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self._thread.start()
        wait_until(
            lambda: self.server.started or not self._thread.is_alive(),
            timeout=30,
            description=f"the server on port {self.port} to start",
        )
        assert self.server.started, "the server thread died while starting"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


def closed_port_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class EchoUpstream:
    """Answers every request with what it received; `/v1/payments/slow` never answers in time."""

    def __init__(self) -> None:
        self.url = ""
        self.received: list[dict[str, Any]] = []
        self.release = asyncio.Event()
        self.app = Starlette(
            routes=[
                Route("/{path:path}", self.echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
            ]
        )

    async def echo(self, request: Request) -> Response:
        body = await request.body()
        seen = {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": [[k, v] for k, v in request.headers.items()],
            "body": body.decode("utf-8", "replace"),
        }
        self.received.append(seen)
        if request.url.path == "/v1/payments/slow":
            # Held until the gateway has given up (bounded, so shutdown never hangs).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), timeout=3)
        headers = {"X-Paylab-Internal-Key": "must-not-leak", "Location": "/v1/payments/p1"}
        return JSONResponse(
            seen, status_code=201 if request.method == "POST" else 200, headers=headers
        )


def header_values(seen: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in seen["headers"] if k.lower() == name.lower()]


def dump(seen: dict[str, Any]) -> str:
    return json.dumps(seen, indent=1)
