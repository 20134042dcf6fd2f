"""Revoked keys are published for exactly as long as their tokens can live."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from paylab.auth.revocation import RevocationList
from paylab.auth.settings import AuthSettings

REVOKED_AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class FakeRedis:
    def __init__(self) -> None:
        self.set_calls: list[tuple[str, str, int]] = []

    def set(self, key: str, value: str, ex: int) -> Any:
        self.set_calls.append((key, value, ex))
        return True


def revocations(seconds_after: float) -> tuple[RevocationList, FakeRedis]:
    client = FakeRedis()
    settings = AuthSettings(token_ttl_seconds=600, revocation_margin_seconds=60)
    clock = REVOKED_AT.timestamp() + seconds_after
    return RevocationList(client, settings, clock=lambda: clock), client  # type: ignore[arg-type]


def test_a_fresh_revocation_lives_a_token_lifetime_plus_the_margin() -> None:
    listed, client = revocations(0)
    key_id = uuid.uuid4()
    listed.publish(key_id, REVOKED_AT)
    assert client.set_calls == [(f"paylab:revoked-api-key:{key_id}", "1", 661)]


def test_a_repeated_revoke_keeps_the_original_deadline() -> None:
    listed, client = revocations(500)
    listed.publish(uuid.uuid4(), REVOKED_AT)
    assert client.set_calls[0][2] == 161  # 660 - 500, never a fresh full window


def test_once_every_earlier_token_expired_nothing_is_written() -> None:
    listed, client = revocations(661)
    listed.publish(uuid.uuid4(), REVOKED_AT)
    assert client.set_calls == []
