"""Idempotency-Key handling: Redis answers first; Postgres (idempotency_keys) stands behind it."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import redis
import structlog
from sqlalchemy import RowMapping, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from paylab.core.problems import Problem
from paylab.payment.models import idempotency_keys, payments

log = structlog.get_logger(__name__)
_IN_PROGRESS = "in_progress"
_DONE = "done"


def request_hash(body: dict[str, Any]) -> str:
    """A stable digest of a request body: the same JSON in any key order or spacing is equal."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    """The first answer given for a key."""

    status: int
    body: dict[str, Any]


def key_reused() -> Problem:
    """The same key came with another body."""
    return Problem(
        409,
        "idempotency-key-reused",
        "This Idempotency-Key was already used with a different request body.",
        title="Idempotency key reused",
    )


def in_progress() -> Problem:
    """The first request with this key has not finished."""
    return Problem(
        409,
        "idempotency-key-in-progress",
        "A request with this Idempotency-Key is still being processed; retry shortly.",
        title="Request in progress",
    )


class RedisIdempotency:
    """`claim` the key (SET NX with a TTL), then `complete` it with the answer or `release` it."""

    def __init__(self, client: redis.Redis, ttl_s: int, wait_s: float) -> None:
        self.redis = client
        self.ttl_s = ttl_s
        self.wait_s = wait_s

    @staticmethod
    def _key(merchant_id: str, key: str) -> str:
        return f"paylab:payment:idem:{merchant_id}:{hashlib.sha256(key.encode()).hexdigest()}"

    def claim(self, merchant_id: str, key: str, digest: str) -> StoredResponse | None:
        """None when this request owns the key; the first answer when it is a replay.

        A duplicate that arrives while the first is running waits (bounded) for its answer.
        Redis being down is not fatal: the Postgres row behind it still decides.
        """
        rkey = self._key(merchant_id, key)
        mine = json.dumps({"state": _IN_PROGRESS, "hash": digest})
        deadline = time.monotonic() + self.wait_s
        delay = 0.02
        try:
            while True:
                if self.redis.set(rkey, mine, nx=True, ex=self.ttl_s):
                    return None
                raw = self.redis.get(rkey)
                if raw is None:
                    continue  # expired or released in between: try to take it again
                record = json.loads(raw)
                if record.get("hash") != digest:
                    raise key_reused()
                if record.get("state") == _DONE:
                    return StoredResponse(int(record["status"]), dict(record["body"]))
                if time.monotonic() >= deadline:
                    raise in_progress()
                time.sleep(delay)
                delay = min(delay * 2, 0.25)
        except redis.RedisError as exc:
            log.warning("idempotency: redis unavailable, relying on postgres", error=str(exc))
            return None

    def complete(self, merchant_id: str, key: str, digest: str, answer: StoredResponse) -> None:
        """Remember the answer for the key's lifetime."""
        record = {"state": _DONE, "hash": digest, "status": answer.status, "body": answer.body}
        try:
            self.redis.set(self._key(merchant_id, key), json.dumps(record), ex=self.ttl_s)
        except redis.RedisError as exc:
            log.warning("idempotency: could not store the answer in redis", error=str(exc))

    def release(self, merchant_id: str, key: str) -> None:
        """Forget an unfinished claim so that the client can retry (after an error)."""
        try:
            self.redis.delete(self._key(merchant_id, key))
        except redis.RedisError as exc:
            log.warning("idempotency: could not release the key in redis", error=str(exc))


def claim_row(
    session: Session, merchant_id: str, key: str, digest: str, claimed_id: str
) -> RowMapping:
    """The key's row in Postgres: ours (payment id `claimed_id`) if it is new, else the first."""
    # RETURNING answers a fresh claim (the common case) without reading the row again.
    row = (
        session.execute(
            insert(idempotency_keys)
            .values(
                merchant_id=merchant_id,
                idempotency_key=key,
                request_hash=digest,
                payment_id=claimed_id,
            )
            .on_conflict_do_nothing()
            .returning(*idempotency_keys.c)
        )
        .mappings()
        .first()
    )
    if row is None:
        mine = (idempotency_keys.c.merchant_id == merchant_id) & (
            idempotency_keys.c.idempotency_key == key
        )
        return session.execute(select(idempotency_keys).where(mine)).mappings().one()
    taken = select(payments.c.id).where(
        payments.c.merchant_id == merchant_id, payments.c.idempotency_key == key
    )
    if session.execute(taken).first() is not None:
        # The key's row was cleaned up (core/retention.py) but its payment keeps the key:
        # refuse it (the claim rolls back) rather than break payments' UNIQUE key.
        raise key_expired()
    return row


def key_expired() -> Problem:
    """The key was used for a payment whose idempotency record has expired."""
    return Problem(
        409,
        "idempotency-key-expired",
        "This Idempotency-Key was used for an earlier payment; use a new key.",
        title="Idempotency key expired",
    )
