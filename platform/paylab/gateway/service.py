"""The gateway's one use case: check, limit and forward a public request to its service."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import redis
import structlog
from starlette.requests import Request
from starlette.responses import Response

from paylab.core.problems import problem_response
from paylab.core.ratelimit import AsyncRateLimiter, Decision
from paylab.gateway import routing, upstream
from paylab.gateway.headers import client_headers, client_ip, upstream_headers
from paylab.gateway.keys import CachedKey
from paylab.gateway.ops import handle_ops
from paylab.gateway.settings import GatewaySettings
from paylab.gateway.tokens import Claims, InvalidToken, KeysUnavailable, TokenVerifier

log = structlog.get_logger("paylab.gateway")
MINUTE = 60.0


class BodyTooLarge(Exception):
    """The request body is over the configured limit."""


@dataclass
class Gateway:
    settings: GatewaySettings
    http: httpx.AsyncClient
    verifier: TokenVerifier
    limiter: AsyncRateLimiter
    internal_key: CachedKey  # what the gateway presents upstream
    operator_key: CachedKey  # what operators present on /v1/ops

    async def handle(self, request: Request) -> Response:
        """Answer one public request; logs method, path, status, latency and merchant."""
        started = time.perf_counter()
        merchant: list[str | None] = [None]
        response = await self._handle(request, merchant)
        log.info(
            "request",
            method=request.method,
            path=request.scope["path"],
            status=response.status_code,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            merchant_id=merchant[0],
        )
        return response

    async def _handle(self, request: Request, merchant: list[str | None]) -> Response:
        raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
        path: str = request.scope["path"]  # percent-decoded, as routing upstream will see it
        route = routing.match(path) if routing.is_safe_path(path, raw_path) else None
        if route is None:
            return problem_response(404, "not-found", "No such resource.")
        too_large = self._declared_too_large(request)
        if too_large is not None:
            return too_large
        ip = client_ip(
            request.client.host if request.client else None,
            request.headers.get("x-forwarded-for"),
            self.settings.trusted_proxy_hops,
            request.headers.get(header) if (header := self.settings.client_ip_header) else None,
        )
        if route.operator:
            # The anonymous limit also slows down guessing the operator key.
            limited = await self._limit(f"ip:{ip}", self.settings.anonymous_rate_limit_per_minute)
            if limited is not None:
                return limited

            async def forward(service: str, upstream_path: str) -> Response:
                return await self._forward_ops(request, service, upstream_path, ip)

            return await handle_ops(
                request, path, self.operator_key, forward=forward, fresh=self.operator_key.fresh
            )
        if route.public:
            limited = await self._limit(f"ip:{ip}", self.settings.anonymous_rate_limit_per_minute)
        else:
            try:
                claims = await self.verifier.verify(request.headers.get("authorization"))
            except InvalidToken as exc:
                return _unauthorized(exc)
            except KeysUnavailable:
                return problem_response(
                    503,
                    "auth-unavailable",
                    "Tokens cannot be checked right now; try again.",
                    headers={"Retry-After": "5"},
                )
            merchant[0] = claims.merchant_id
            if routing.needs_step_up(request.method, path):
                stale = _stale_for_step_up(claims, self.settings.step_up_max_age_seconds)
                if stale is not None:
                    return stale
            limited = await self._limit(
                f"m:{claims.merchant_id}", self.settings.rate_limit_per_minute
            )
        if limited is not None:
            return limited
        try:
            body = await _read_body(request, self.settings.max_body_bytes)
        except BodyTooLarge:
            return _too_large(self.settings.max_body_bytes)
        return await self._forward(request, route.service, raw_path, body, merchant[0], ip)

    async def _forward_ops(
        self, request: Request, service: str, upstream_path: str, ip: str
    ) -> Response:
        """An operator request, checked by ops.py, to a service's internal path."""
        try:
            body = await _read_body(request, self.settings.max_body_bytes)
        except BodyTooLarge:
            return _too_large(self.settings.max_body_bytes)
        return await self._forward(request, service, upstream_path.encode(), body, None, ip)

    def _declared_too_large(self, request: Request) -> Response | None:
        declared = request.headers.get("content-length")
        if declared is None:
            return None
        if not declared.isdigit():
            return problem_response(400, "bad-content-length", "Content-Length is not a number.")
        if int(declared) > self.settings.max_body_bytes:
            return _too_large(self.settings.max_body_bytes)
        return None

    async def _limit(self, key: str, per_minute: int) -> Response | None:
        try:
            decision: Decision = await self.limiter.check(
                self.settings.redis_key_prefix + key, per_minute, MINUTE
            )
        except (redis.RedisError, OSError) as exc:
            # Fail open: an outage of the limit store must not take the whole API down;
            # auth's login throttle fails closed on its own.
            log.error("rate_limit_unavailable", error=repr(exc))
            return None
        if decision.allowed:
            return None
        return problem_response(
            429,
            "rate-limited",
            f"Rate limit of {per_minute} requests per minute exceeded.",
            headers={"Retry-After": decision.retry_after_header},
        )

    async def _forward(
        self,
        request: Request,
        service: str,
        raw_path: bytes,
        body: bytes,
        merchant_id: str | None,
        ip: str,
    ) -> Response:
        query = request.scope.get("query_string", b"")
        url = self.settings.upstream_url(service) + raw_path.decode("ascii", "replace")
        if query:
            url += "?" + query.decode("ascii", "replace")
        # A refusal of the gateway's own credential (it rotated since the gateway read it):
        # read it again, bypassing every cache, and send once more.
        for read in (self.internal_key.__call__, self.internal_key.fresh):
            key = await upstream.credential(read)
            if isinstance(key, Response):
                return key
            answer = await self._send(request, service, url, body, merchant_id, ip, key=key)
            if not upstream.credential_refused(answer):
                break
            log.warning("upstream_refused_internal_credential", service=service)
        else:
            return problem_response(
                503,
                "upstream-unavailable",
                f"The {service} service refused the gateway's credential; try again.",
                headers={"Retry-After": "5"},
            )
        if isinstance(answer, Response):
            return answer
        response = Response(answer.content, status_code=answer.status_code)
        for name, value in client_headers(answer.headers.multi_items()):
            response.headers.append(name, value)
        return response

    async def _send(
        self,
        request: Request,
        service: str,
        url: str,
        body: bytes,
        merchant_id: str | None,
        ip: str,
        *,
        key: str,
    ) -> httpx.Response | Response:
        """One upstream request: its response, or the gateway's own answer when it failed."""
        headers = upstream_headers(
            request.headers.items(),
            internal_key=key,
            merchant_id=merchant_id,
            request_id=request.state.request_id,
            correlation_id=request.state.correlation_id,
            client_ip=ip,
        )
        return await upstream.send(self.http, request.method, url, headers, body, service)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, counted while it streams in (Content-Length may lie or be absent)."""
    body = bytearray()
    stream: AsyncIterator[bytes] = request.stream()
    async for chunk in stream:
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge()
    return bytes(body)


def _too_large(limit: int) -> Response:
    return problem_response(
        413,
        "payload-too-large",
        f"The request body is larger than {limit} bytes.",
        headers={"Connection": "close"},
    )


def _unauthorized(exc: InvalidToken) -> Response:
    # RFC 6750 §3.1: no error code when the request carried no credentials at all.
    challenge = 'Bearer realm="paylab"'
    if not exc.missing:
        challenge += ', error="invalid_token", error_description="' + _header_safe(exc.reason) + '"'
    return problem_response(
        401,
        "invalid-token",
        f"Authentication failed: {exc.reason}.",
        headers={"WWW-Authenticate": challenge},
    )


def _stale_for_step_up(claims: Claims, max_age: int) -> Response | None:
    """RFC 9470: 401 insufficient_user_authentication when the token is older than max_age."""
    age = int(time.time()) - claims.issued_at
    if age <= max_age:
        return None
    return problem_response(
        401,
        "step-up-required",
        f"This change needs a token issued in the last {max_age} seconds (this one is "
        f"{age} seconds old): log in again with POST /v1/auth/login and repeat it.",
        headers={
            "WWW-Authenticate": 'Bearer realm="paylab", error="insufficient_user_authentication", '
            f'error_description="log in again", max_age={max_age}'
        },
    )


def _header_safe(text: str) -> str:
    """Printable ASCII without quotes or backslashes (RFC 6750 error_description)."""
    return "".join(c for c in text if " " <= c <= "~" and c not in '"\\')[:200]
