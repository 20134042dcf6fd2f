"""What the merchant process builds on first use: engine, service, delivery loop, clients."""

from __future__ import annotations

from dataclasses import dataclass

import redis
import structlog
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.db import service_engine, session_factory
from paylab.core.lazy import Lazy
from paylab.core.ratelimit import RateLimiter
from paylab.core.settings import get_settings
from paylab.merchant.clients import build_clients
from paylab.merchant.delivery import Deliverer, webhook_client
from paylab.merchant.delivery_loop import DeliveryLoop
from paylab.merchant.dispersion import Dispersions
from paylab.merchant.dispersion_clients import RedisLock, WalletPayouts, build_bank
from paylab.merchant.dispersion_store import SqlStore
from paylab.merchant.service import MerchantService, SignupLimiter
from paylab.merchant.settings import MerchantSettings, get_merchant_settings

log = structlog.get_logger("paylab.merchant")
HOUR = 3600.0


@dataclass
class Runtime:
    """One process's merchant service and webhook deliverer over one engine."""

    settings: MerchantSettings
    sessions: sessionmaker[Session]
    service: MerchantService
    deliverer: Deliverer
    dispersions: Dispersions
    dispersion_store: SqlStore
    loop: DeliveryLoop | None = None

    def wake(self) -> None:
        """Tell this process's delivery loop (if it runs one) that a webhook is due."""
        if self.loop is not None:
            self.loop.wake()


def _redis() -> redis.Redis:
    return redis.Redis.from_url(
        get_settings().redis_dsn(), socket_timeout=1.0, socket_connect_timeout=1.0
    )


def signup_limiter(settings: MerchantSettings) -> SignupLimiter:
    """Signups per client IP and hour, in Redis; fails open like the gateway's limits."""
    limiter = RateLimiter(_redis())

    def check(client_ip: str) -> float | None:
        key = f"{settings.redis_key_prefix}signup:{client_ip}"
        try:
            decision = limiter.check(key, settings.signups_per_ip_per_hour, HOUR)
        except (redis.RedisError, OSError) as exc:
            log.error("signup_limit_unavailable", error=repr(exc))
            return None
        return None if decision.allowed else decision.retry_after

    return check


def build_runtime(
    settings: MerchantSettings | None = None, engine: Engine | None = None
) -> Runtime:
    """Connect to the merchant schema (as paylab_merchant) and wire everything to it."""
    settings = settings or get_merchant_settings()
    sessions = session_factory(engine or service_engine("merchant", pool_size=5))
    auth, wallet = build_clients(settings)
    service = MerchantService(
        sessions, settings, auth, wallet, signup_limiter=signup_limiter(settings)
    )
    http = webhook_client()
    store = SqlStore(sessions, settings)
    lock = RedisLock(
        _redis(),
        settings.redis_key_prefix,
        settings.dispersion_lock_ttl_s,
        settings.dispersion_lock_wait_s,
    )
    dispersions = Dispersions(store, WalletPayouts(wallet.client), build_bank(settings), lock)
    runtime = Runtime(
        settings, sessions, service, Deliverer(sessions, settings, http), dispersions, store
    )
    store.on_webhook = runtime.wake  # dispersion webhooks go out at once, like payments'
    return runtime


#: The process-wide runtime (the app's, when created without arguments, and the consumers').
RUNTIME: Lazy[Runtime] = Lazy(build_runtime)
