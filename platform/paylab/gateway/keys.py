"""Credentials the gateway holds: read from Secrets Manager off the event loop, cached."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio.to_thread

from paylab.core.internal_auth import internal_credential


class CachedKey:
    """A credential (the internal one unless told), read again every `ttl` seconds, or at
    once through `fresh()` when a presented key does not match (a rotation), at most every
    `min_refresh` seconds so that wrong keys cannot make the gateway call AWS per request."""

    def __init__(
        self,
        ttl: float = 30.0,
        fetch: Callable[..., str] = internal_credential,
        min_refresh: float = 1.0,
    ) -> None:
        self._ttl = ttl
        self._fetch = fetch
        self._min_refresh = min_refresh
        self._value: str | None = None
        self._at = 0.0
        self._fresh_at: float | None = None  # the last read that bypassed every cache

    async def __call__(self) -> str:
        if self._value is None or time.monotonic() - self._at >= self._ttl:
            return await self._read(refresh=False)
        return self._value

    async def fresh(self) -> str:
        """The value as Secrets Manager has it now (unless read so within `min_refresh`)."""
        if (
            self._value is not None
            and self._fresh_at is not None
            and time.monotonic() - self._fresh_at < self._min_refresh
        ):
            return self._value
        return await self._read(refresh=True)

    async def _read(self, *, refresh: bool) -> str:
        started = time.monotonic()
        value: str = await anyio.to_thread.run_sync(lambda: self._fetch(refresh=refresh))
        if self._value is not None and self._fresh_at is not None and started < self._fresh_at:
            return self._value  # a fresh read began after this one: its value stands
        self._value, self._at = value, started
        if refresh:
            self._fresh_at = started
        return value
