"""Secrets Manager reads, cached with a TTL and refreshed on demand (e.g. after an auth failure).

Rotation (ARCHITECTURE §2.8) changes a credential in two places that cannot move at the same
instant: the system that checks it (Postgres, a partner) and the secret. Between a rotation's
setSecret and finishSecret steps the checker already wants the AWSPENDING value while
AWSCURRENT still holds the old one, so `candidates()` yields, in order, the cached current
value, a freshly read current value and the pending value: a caller whose credential was
refused tries the next one instead of failing (see docs/decisions.md, "Secret rotation").
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from paylab.core.aws import client

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"
PREVIOUS = "AWSPREVIOUS"


@dataclass(frozen=True)
class Version:
    """One version of a secret as read at `fetched` (monotonic); `value` None: no such stage."""

    value: str | None
    fetched: float
    created: float | None = None  # its CreatedDate (epoch seconds), when known
    version_id: str | None = None


class SecretReader:
    """Reads secret values by id (name or ARN) and version stage; one cache per instance."""

    def __init__(self, ttl_seconds: float = 300.0, sm: Any = None) -> None:
        self._ttl = ttl_seconds
        self._sm = sm
        self._cache: dict[tuple[str, str], Version] = {}
        self._lock = threading.Lock()

    @property
    def _client(self) -> Any:
        if self._sm is None:
            self._sm = client("secretsmanager")
        return self._sm

    def get(self, secret_id: str, *, refresh: bool = False) -> str:
        """The AWSCURRENT value; fetched again when stale or when `refresh` is set."""
        value = self.stage(secret_id, CURRENT, refresh=refresh)
        if value is None:
            raise LookupError(f"secret {secret_id} has no {CURRENT} version")
        return value

    def stage(self, secret_id: str, stage: str, *, refresh: bool = False) -> str | None:
        """The value at `stage`, or None when no version carries that label."""
        return self.version(secret_id, stage, refresh=refresh).value

    def version(self, secret_id: str, stage: str, *, refresh: bool = False) -> Version:
        """The version at `stage` with its metadata; fetched again when stale or asked to."""
        if not refresh:
            cached = self._fresh(secret_id, stage)
            if cached is not None:
                return cached
        found = self._fetch(secret_id, stage, time.monotonic())
        with self._lock:
            known = self._cache.get((secret_id, stage))
            if known is None or known.fetched <= found.fetched:  # a slower, older read loses
                self._cache[(secret_id, stage)] = found
        return found

    def _fresh(self, secret_id: str, stage: str) -> Version | None:
        """The cached version at `stage` if it is fresh, else None; never calls AWS."""
        with self._lock:
            cached = self._cache.get((secret_id, stage))
        if cached is None or time.monotonic() - cached.fetched >= self._ttl:
            return None
        return cached

    def _fetch(self, secret_id: str, stage: str, started: float) -> Version:
        try:
            response = self._client.get_secret_value(SecretId=secret_id, VersionStage=stage)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if stage != CURRENT and code == "ResourceNotFoundException":
                return Version(None, started)
            raise
        raw = response.get("SecretString")
        created = response.get("CreatedDate")
        return Version(
            None if raw is None else str(raw),
            started,
            created.timestamp() if isinstance(created, datetime) else None,
            response.get("VersionId"),
        )

    def get_json(self, secret_id: str, *, refresh: bool = False) -> dict[str, Any]:
        """The AWSCURRENT value parsed as a JSON object."""
        return parse_json(secret_id, self.get(secret_id, refresh=refresh))

    def candidates(self, secret_id: str) -> Iterator[dict[str, Any]]:
        """Values to try in turn when a credential is refused: cached, fresh, then pending.

        Each distinct value is yielded once; the caller stops at the first that works.
        """
        seen: set[str] = set()
        for stage, refresh in ((CURRENT, False), (CURRENT, True), (PENDING, True)):
            value = self.stage(secret_id, stage, refresh=refresh)
            if value is None or value in seen:
                continue
            seen.add(value)
            try:
                yield parse_json(secret_id, value)
            except ValueError:
                continue  # a half-written pending version is no candidate

    def invalidate(self, secret_id: str | None = None) -> None:
        """Forget one cached secret (every stage), or all of them."""
        with self._lock:
            if secret_id is None:
                self._cache.clear()
            else:
                for key in [k for k in self._cache if k[0] == secret_id]:
                    del self._cache[key]


def parse_json(secret_id: str, value: str) -> dict[str, Any]:
    """A secret's value as a JSON object; ValueError naming the secret otherwise."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"secret {secret_id} is not JSON") from exc
    if not isinstance(parsed, dict):
        raise ValueError(f"secret {secret_id} is not a JSON object")
    return parsed


_shared: SecretReader | None = None
_shared_lock = threading.Lock()


def shared_reader() -> SecretReader:
    """The process-wide reader: one cache, so a refresh by one caller serves all."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SecretReader()
        return _shared
