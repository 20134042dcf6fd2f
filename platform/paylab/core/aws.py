"""The one boto3 client factory: LocalStack or AWS is a matter of settings, never of code."""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

from paylab.core.settings import Settings, Target, get_settings

# LocalStack accepts any credentials; these are its documented dummy ones.
_LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}

_CONFIG = Config(
    retries={"max_attempts": 4, "mode": "standard"},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=32,
)

# Lambda's longest function timeout, plus a margin: how long a synchronous invoke may wait.
LAMBDA_MAX_WAIT_S = 15 * 60 + 30

_lock = threading.Lock()
_session: boto3.session.Session | None = None


def _boto_session() -> boto3.session.Session:
    # boto3 sessions are not thread-safe to create clients from concurrently.
    global _session
    if _session is None:
        _session = boto3.session.Session()
    return _session


def client(service: str, settings: Settings | None = None, **overrides: Any) -> Any:
    """A boto3 client for `service`, aimed at LocalStack locally and at AWS otherwise."""
    settings = settings or get_settings()
    kwargs: dict[str, Any] = {"region_name": settings.region, "config": _CONFIG}
    endpoint = settings.endpoint_url()
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    if settings.target is Target.LOCAL and not os.environ.get("AWS_ACCESS_KEY_ID"):
        kwargs.update(_LOCAL_CREDENTIALS)
    kwargs.update(overrides)
    session: Any = _boto_session()  # typed per service by boto3-stubs; callers pick the type
    with _lock:
        return session.client(service, **kwargs)


def invoker(settings: Settings | None = None, *, wait_s: float = LAMBDA_MAX_WAIT_S) -> Any:
    """A Lambda client for synchronous invokes (RequestResponse) that never invokes twice.

    It waits `wait_s` for the answer (pass the function's timeout plus a margin) and is not
    retried by botocore: after a read timeout or a reset the function may be running, and a
    retry would run it a second time.
    """
    config = _CONFIG.merge(
        Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=wait_s)
    )
    return client("lambda", settings, config=config)
