"""What auth's routes need at run time, built on first use (never at import or start-up).

Lazy, like the other services: `./paylab up` starts the services while the stack is still
being deployed, and a process must not need the stack's outputs before its first request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import redis
import structlog
from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from paylab.auth.revocation import RevocationList
from paylab.auth.settings import AuthSettings
from paylab.auth.signing import KeyRing, SecretsManagerVersions
from paylab.auth.throttle import LoginThrottle
from paylab.core.db import service_engine, session_factory
from paylab.core.ratelimit import RateLimiter
from paylab.core.settings import get_settings
from paylab.core.stack_outputs import output

log = structlog.get_logger(__name__)

JWT_SECRET_OUTPUT = "JwtSigningKeySecretArn"  # noqa: S105 (an output name, not a secret)


@dataclass
class Runtime:
    settings: AuthSettings
    engine: Engine
    sessions: sessionmaker[Session]
    keys: KeyRing
    redis: redis.Redis
    throttle: LoginThrottle
    revocations: RevocationList

    def close(self) -> None:
        self.redis.close()
        self.engine.dispose()


def build_runtime(settings: AuthSettings) -> Runtime:
    """Connect to Postgres (own role), Redis and Secrets Manager; fail fast on a bad secret."""
    engine = service_engine("auth")
    secret_id = settings.jwt_secret_id or output(JWT_SECRET_OUTPUT)
    keys = KeyRing(SecretsManagerVersions(secret_id), settings.signing_key_check_seconds)
    keys.current()
    client = redis.Redis.from_url(
        get_settings().redis_dsn(), socket_timeout=2.0, socket_connect_timeout=2.0
    )
    throttle = LoginThrottle(RateLimiter(client), settings)
    sessions = session_factory(engine)
    revocations = RevocationList(client, settings)
    try:
        revocations.publish_recent(sessions)  # Redis may have lost them (restart, eviction)
    except redis.RedisError as exc:
        log.warning("revocations_not_republished", error=repr(exc))
    return Runtime(settings, engine, sessions, keys, client, throttle, revocations)


async def _runtime(request: Request) -> Runtime:
    runtime: Runtime = await request.app.state.runtime.ready()
    return runtime


Deps = Annotated[Runtime, Depends(_runtime)]
