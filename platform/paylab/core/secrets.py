"""Secrets Manager reads, cached with a TTL and refreshed on demand (e.g. after an auth failure)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from paylab.core.aws import client


@dataclass
class _Cached:
    value: str
    fetched: float


class SecretReader:
    """Reads secret values by id (name or ARN); one cache per process."""

    def __init__(self, ttl_seconds: float = 300.0, sm: Any = None) -> None:
        self._ttl = ttl_seconds
        self._sm = sm
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    @property
    def _client(self) -> Any:
        if self._sm is None:
            self._sm = client("secretsmanager")
        return self._sm

    def get(self, secret_id: str, *, refresh: bool = False) -> str:
        """The AWSCURRENT value; fetched again when stale or when `refresh` is set."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(secret_id)
            if cached and not refresh and now - cached.fetched < self._ttl:
                return cached.value
        value = str(self._client.get_secret_value(SecretId=secret_id)["SecretString"])
        with self._lock:
            self._cache[secret_id] = _Cached(value, now)
        return value

    def get_json(self, secret_id: str, *, refresh: bool = False) -> dict[str, Any]:
        """The AWSCURRENT value parsed as a JSON object."""
        parsed = json.loads(self.get(secret_id, refresh=refresh))
        if not isinstance(parsed, dict):
            raise ValueError(f"secret {secret_id} is not a JSON object")
        return parsed

    def invalidate(self, secret_id: str | None = None) -> None:
        """Forget one cached secret, or all of them."""
        with self._lock:
            if secret_id is None:
                self._cache.clear()
            else:
                self._cache.pop(secret_id, None)
