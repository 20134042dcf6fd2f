"""A raw TCP server on a loopback ephemeral port, for tests of what clients do on the wire.

Each accepted connection goes to `handle` (on the server's one thread, one at a time), then is
closed; `connections` counts them.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable


class LoopbackServer:
    """`with LoopbackServer(handle) as server:` serves until the block ends."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self.handle = handle
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # shut down by the test
            self.connections += 1
            with conn:
                self.handle(conn)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept (closing alone does not)
        self.sock.close()
        self._thread.join(5)
