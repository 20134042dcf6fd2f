"""Serve several simulators from one process: one uvicorn server per app, one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator, Sequence

import uvicorn
from fastapi import FastAPI

from paylab.core.app import SERVER_KEEP_ALIVE_S


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves SIGTERM/SIGINT to `serve_all`.

    uvicorn's own capture swaps the process-wide handler per server and re-raises the signal
    once the server stops: with several servers only the last one would hear it, and the
    process would die by the signal instead of exiting 0.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def config(app: FastAPI, host: str, port: int, log_level: str) -> uvicorn.Config:
    """The uvicorn settings every simulator runs with."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        server_header=False,
        date_header=False,
        timeout_keep_alive=SERVER_KEEP_ALIVE_S,
    )


async def serve_all(configs: Sequence[uvicorn.Config]) -> int:
    """Serve every config until SIGTERM/SIGINT; 0 after a clean stop, 1 if one failed to start."""
    servers = [_QuietServer(c) for c in configs]

    def stop(sig: signal.Signals) -> None:
        for server in servers:
            # A second Ctrl-C skips waiting for open connections, as uvicorn does.
            if server.should_exit and sig == signal.SIGINT:
                server.force_exit = True
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, sig)

    async def run(server: _QuietServer) -> bool:
        try:
            await server.serve()
        except SystemExit:
            # uvicorn exits when a server cannot start (e.g. its port is taken): the others
            # stop too, so a half-started process never passes for a healthy one.
            stop(signal.SIGTERM)
            return False
        return True

    results = await asyncio.gather(*(run(s) for s in servers))
    return 0 if all(results) else 1


def run(configs: Sequence[uvicorn.Config]) -> int:
    """Run `serve_all` on uvicorn's preferred event loop (uvloop when installed)."""
    with asyncio.Runner(loop_factory=configs[0].get_loop_factory()) as runner:
        return runner.run(serve_all(configs))
