"""Settings pick the AWS endpoint from configuration, never from code paths."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from paylab.core.settings import Settings, Target


def test_local_target_talks_to_localstack_on_the_configured_port() -> None:
    settings = Settings(target=Target.LOCAL, localstack_port=4999)
    assert settings.endpoint_url() == "http://127.0.0.1:4999"


def test_aws_target_uses_no_endpoint_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert Settings(target=Target.AWS).endpoint_url() is None


def test_explicit_endpoint_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4700")
    assert Settings(target=Target.AWS).endpoint_url() == "http://127.0.0.1:4700"


def test_bad_values_fail_fast_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "localhost:4566")
    with pytest.raises(ValidationError, match="AWS_ENDPOINT_URL"):
        Settings()
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("PAYLAB_TARGET", "azure")
    with pytest.raises(ValidationError, match="target"):
        Settings()


def test_the_redis_password_goes_into_the_url_escaped_and_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On AWS the task definitions set REDIS_PASSWORD (ElastiCache's AUTH token)."""
    import redis

    monkeypatch.setenv("REDIS_URL", "rediss://default@cache.example:6379/0")
    monkeypatch.setenv("REDIS_PASSWORD", "a/b@c:d")
    settings = Settings()
    parsed = redis.connection.parse_url(settings.redis_dsn())
    assert (parsed["password"], parsed["host"], parsed["port"]) == (
        "a/b@c:d",
        "cache.example",
        6379,
    )
    assert "a/b@c:d" not in repr(settings)
    monkeypatch.delenv("REDIS_PASSWORD")
    assert Settings().redis_dsn() == "rediss://default@cache.example:6379/0"
