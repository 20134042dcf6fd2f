"""Idempotency-Key support: a retried POST gets the first answer, never a second effect."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from starlette.responses import Response

from paylab.core.problems import Problem

IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(slots=True)
class _Stored:
    fingerprint: str
    status: int
    body: bytes


class IdempotencyStore:
    """Remembers the last `capacity` keys per simulator (scoped by route)."""

    def __init__(self, capacity: int = 50_000) -> None:
        self._items: OrderedDict[str, _Stored] = OrderedDict()
        self._capacity = capacity

    def clear(self) -> None:
        """Forget every key."""
        self._items.clear()

    def replay(self, scope: str, key: str | None, body: bytes) -> Response | None:
        """The stored answer for this key, or None; 409 if the key came with another body."""
        if key is None:
            return None
        if not 1 <= len(key) <= 255:
            raise Problem(
                400, "bad-idempotency-key", "Idempotency-Key must be 1 to 255 characters."
            )
        stored = self._items.get(f"{scope}:{key}")
        if stored is None:
            return None
        if stored.fingerprint != hashlib.sha256(body).hexdigest():
            raise Problem(
                409,
                "idempotency-key-reused",
                "This Idempotency-Key was already used with a different request body.",
            )
        return Response(
            stored.body,
            status_code=stored.status,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )

    def remember(self, scope: str, key: str | None, body: bytes, status: int, out: bytes) -> None:
        """Store the answer given to a first request with this key."""
        if key is None:
            return
        self._items[f"{scope}:{key}"] = _Stored(hashlib.sha256(body).hexdigest(), status, out)
        if len(self._items) > self._capacity:
            self._items.popitem(last=False)
