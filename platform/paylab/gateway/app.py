"""The gateway's HTTP entrypoint: every /v1 path is checked, limited and proxied."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
import yaml
from fastapi import APIRouter, FastAPI, Request, Response

from paylab.core.app import create_app
from paylab.core.internal_auth import operator_key
from paylab.core.ratelimit import AsyncRateLimiter
from paylab.core.settings import get_settings
from paylab.gateway.keys import CachedKey
from paylab.gateway.service import Gateway
from paylab.gateway.settings import GatewaySettings
from paylab.gateway.tokens import JwksCache, RedisRevocations, TokenVerifier

SPEC = Path(__file__).with_name("openapi.yaml")
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@lru_cache(maxsize=1)
def public_spec() -> dict[str, Any]:
    """The hand-written public contract (the gateway proxies, so nothing generates it)."""
    doc: dict[str, Any] = yaml.safe_load(SPEC.read_text())
    return doc


def build_gateway(settings: GatewaySettings) -> tuple[Gateway, Callable[[], Any]]:
    """The gateway with its shared HTTP client and Redis client; returns it and its closer."""
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(
            settings.upstream_timeout_seconds,
            connect=settings.connect_timeout_seconds,
            pool=settings.pool_timeout_seconds,
        ),
        limits=httpx.Limits(max_connections=settings.max_connections),
        follow_redirects=False,
        trust_env=False,  # never route upstream calls through an environment proxy
    )
    cache = aioredis.Redis.from_url(
        get_settings().redis_dsn(), socket_timeout=1.0, socket_connect_timeout=1.0
    )

    async def fetch_jwks() -> Any:
        response = await http.get(settings.auth_url + "/.well-known/jwks.json")
        response.raise_for_status()
        return response.json()

    jwks = JwksCache(
        fetch_jwks,
        max_age=settings.jwks_max_age_seconds,
        min_interval=settings.jwks_refresh_min_interval_seconds,
    )
    verifier = TokenVerifier(
        jwks,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway=settings.jwt_leeway_seconds,
        max_bytes=settings.max_token_bytes,
        revoked=RedisRevocations(cache, settings.revocation_key_prefix),
    )
    gateway = Gateway(
        settings,
        http,
        verifier,
        AsyncRateLimiter(cache),
        CachedKey(),
        CachedKey(fetch=operator_key),
    )

    async def close() -> None:
        await http.aclose()
        await cache.aclose()

    return gateway, close


def create(settings: GatewaySettings | None = None) -> FastAPI:
    """The gateway app; clients are created when it starts (uvicorn --factory)."""
    settings = settings or GatewaySettings()
    app = create_app("gateway", [], title="Paylab API")
    # FastAPI would regenerate its schema from the (catch-all) routes; serve the contract.
    app.openapi = public_spec  # type: ignore[method-assign]

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        app.state.gateway, close = build_gateway(settings)
        try:
            yield
        finally:
            await close()

    app.router.lifespan_context = lifespan
    proxy = APIRouter()

    # Added after create_app's own routes, so /health and /openapi.json stay the gateway's.
    @proxy.api_route("/{path:path}", methods=METHODS, include_in_schema=False)
    async def forward(request: Request) -> Response:
        gateway: Gateway = request.app.state.gateway
        return await gateway.handle(request)

    app.include_router(proxy)
    return app
