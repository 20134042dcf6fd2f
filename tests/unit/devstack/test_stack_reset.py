"""`up` empties the embedded Postgres and Redis exactly when it starts LocalStack itself.

LocalStack keeps no state across restarts: a platform whose database kept payments that the
new event store, queues and executions know nothing about would break its own invariants.
"""

from __future__ import annotations

from typing import Any

import pytest

from paylab.core.settings import Settings, get_settings
from paylab.devstack.stack import DevStack, Reset


class FakeLocalStack:
    def __init__(self, url: str, starts: bool) -> None:
        self.url, self.starts = url, starts

    def ensure_environment(self, progress: Any) -> None:
        pass

    def start(self) -> bool:
        return self.starts


def _up(monkeypatch: pytest.MonkeyPatch, settings: Settings, *, starts: bool) -> Reset:
    stack = DevStack(settings)
    seen: list[Reset] = []
    monkeypatch.setattr(stack, "localstack", FakeLocalStack(settings.endpoint_url(), starts))
    monkeypatch.setattr(stack.postgres, "start", lambda: None)
    monkeypatch.setattr(stack.redis, "start", lambda: None)
    monkeypatch.setattr(stack, "_launch", lambda progress: None)
    monkeypatch.setattr(
        stack, "_deploy_and_prepare", lambda progress, launched, reset: seen.append(reset) or {}
    )
    stack.up(lambda message: None)
    [reset] = seen
    return reset


def test_a_localstack_started_now_empties_the_embedded_database_and_redis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = get_settings().model_copy(update={"database_url": None, "redis_url": None})
    assert _up(monkeypatch, settings, starts=True) == Reset(database=True, redis=True)


def test_a_localstack_already_running_keeps_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = get_settings().model_copy(update={"database_url": None, "redis_url": None})
    assert _up(monkeypatch, settings, starts=False) == Reset(database=False, redis=False)


def test_a_database_or_redis_of_ones_own_is_never_emptied(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = get_settings().model_copy(
        update={"database_url": "postgresql://db:5432/paylab", "redis_url": "redis://r:6379/0"}
    )
    assert _up(monkeypatch, settings, starts=True) == Reset(database=False, redis=False)
