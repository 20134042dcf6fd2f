"""Built on first use: services create their apps without connecting to anything."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    """Calls `build` once, on the first call, under a lock; later calls return the same value.

    `./paylab up` starts the services while the stack is still being deployed, so an app must
    not need the stack's outputs, secrets or databases before its first request.
    """

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()

    def __call__(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
        return self._value

    async def ready(self) -> T:
        """The value for async code: at once when built, else built in a worker thread.

        FastAPI runs a plain `def` dependency in its thread pool, a hop per dependency per
        request; an `async def` one that awaits this costs nothing once the value exists.
        """
        if self._value is not None:
            return self._value
        import anyio.to_thread  # the web apps' event loop; other users never get here

        return await anyio.to_thread.run_sync(self)

    @property
    def built(self) -> T | None:
        """The value if it was built, else None (e.g. to close it at shutdown)."""
        return self._value
