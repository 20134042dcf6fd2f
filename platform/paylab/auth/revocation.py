"""Revoked API keys, published where the gateway looks: one Redis key per revoked API key.

A bearer token names the API key it was issued for (claim `key_id`). Revoking the key writes
`<prefix><key_id>` with a time to live of the token lifetime plus a margin, so the entry
outlives every token issued before the revocation and then disappears by itself. Postgres
stays the source of truth: the write is repeated by a repeated revoke, and auth re-publishes
the revocations still in their window when it starts (Redis may have lost them).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import redis
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from paylab.auth.models import ApiKey
from paylab.auth.settings import AuthSettings

log = structlog.get_logger(__name__)


class RevocationList:
    """Publishes revoked API keys to Redis for as long as their tokens could live."""

    def __init__(
        self,
        client: redis.Redis,
        settings: AuthSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = client
        self._prefix = settings.revocation_key_prefix
        self._window = settings.token_ttl_seconds + settings.revocation_margin_seconds
        self._clock = clock

    def seconds_left(self, revoked_at: datetime) -> int:
        """How long the entry must still live: 0 once every earlier token has expired."""
        ends = revoked_at.timestamp() + self._window
        return max(0, int(ends - self._clock()) + 1)

    def publish(self, key_id: uuid.UUID, revoked_at: datetime) -> None:
        """Make the gateway refuse the key's tokens; RedisError when it cannot be told."""
        ttl = self.seconds_left(revoked_at)
        if ttl:
            self._redis.set(f"{self._prefix}{key_id}", "1", ex=ttl)

    def publish_recent(self, sessions: sessionmaker[Session]) -> int:
        """Re-publish every revocation still inside its window; returns how many."""
        since = datetime.fromtimestamp(self._clock(), UTC) - timedelta(seconds=self._window)
        with sessions() as session:
            rows = session.execute(
                select(ApiKey.id, ApiKey.revoked_at).where(ApiKey.revoked_at > since)
            ).all()
        for key_id, revoked_at in rows:
            if revoked_at is not None:  # always, given the filter; mypy cannot know
                self.publish(key_id, revoked_at)
        return len(rows)
