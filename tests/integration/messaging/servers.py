"""A FastAPI app served by uvicorn in a thread, on a port of our dev range (8110-8119)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from ..waiting import wait_until


@contextmanager
def serve(app: FastAPI, port: int) -> Iterator[str]:
    """Serve `app` on 127.0.0.1:`port` until the block ends; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, description=f"uvicorn on port {port}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
