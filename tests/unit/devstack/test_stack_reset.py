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
        self.started = True
        return self.starts


def _own_everything() -> Settings:
    """This shell's settings with no endpoint, database or Redis of one's own."""
    update = {"aws_endpoint_url": None, "database_url": None, "redis_url": None}
    return get_settings().model_copy(update=update)


def _up(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    *,
    starts: bool,
    localstack: FakeLocalStack | None = None,
) -> Reset:
    stack = DevStack(settings)
    seen: list[Reset] = []
    fake = localstack or FakeLocalStack(settings.endpoint_url(), starts)
    monkeypatch.setattr(stack, "localstack", fake)
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
    settings = _own_everything()
    assert _up(monkeypatch, settings, starts=True) == Reset(database=True, redis=True)


def test_a_localstack_already_running_keeps_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _own_everything()
    assert _up(monkeypatch, settings, starts=False) == Reset(database=False, redis=False)


def test_a_database_or_redis_of_ones_own_is_never_emptied(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = get_settings().model_copy(
        update={"database_url": "postgresql://db:5432/paylab", "redis_url": "redis://r:6379/0"}
    )
    assert _up(monkeypatch, settings, starts=True) == Reset(database=False, redis=False)


def test_a_localstack_named_by_aws_endpoint_url_is_never_started_even_on_the_same_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """compose's LocalStack publishes the host stack's port: setting the URL says whose it is."""
    own = _own_everything()
    settings = own.model_copy(update={"aws_endpoint_url": own.endpoint_url()})
    fake = FakeLocalStack(own.endpoint_url(), starts=True)
    assert DevStack(own).manages_localstack and not DevStack(settings).manages_localstack
    reset = _up(monkeypatch, settings, starts=True, localstack=fake)
    assert reset == Reset(database=False, redis=False)
    assert not hasattr(fake, "started")
