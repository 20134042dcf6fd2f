"""Bearer token checks against auth's JWKS: EdDSA only, kid required, iss/aud/exp enforced.

The algorithm comes from the gateway, never from the token: `alg` must be EdDSA and the key
must be an Ed25519 JWK from auth's JWKS, so `none`, HS256-signed-with-the-public-key and
RS256 tokens all fail before a signature is even looked at. Key rotation: a token with an
unknown kid waits for a JWKS fetch newer than itself (fetches are rate-limited, so forged
kids cannot hammer auth), and the set is refetched every `max_age` seconds, so a key that
auth stopped publishing (two rotations old) is refused within that time.

Revocation: every token names its API key (`key_id`); auth publishes revoked keys to Redis
(see paylab.auth.revocation), and a valid signature is not enough once the key is listed
there. Redis being down fails closed (503): a revoked key must never work again.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt
import redis
import redis.asyncio as aioredis
import structlog
from jwt import PyJWK

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti", "key_id"]
_SUBJECT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEY_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
log = structlog.get_logger(__name__)


class InvalidToken(Exception):
    """The request's bearer token is missing or not acceptable; `missing` per RFC 6750 §3.1."""

    def __init__(self, reason: str, *, missing: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing


class KeysUnavailable(Exception):
    """No JWKS could be fetched, so no token can be checked."""


class RevocationsUnavailable(KeysUnavailable):
    """The revocation list could not be read, so no token can be trusted."""


class RedisRevocations:
    """Asks Redis whether auth listed an API key as revoked."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    async def __call__(self, key_id: str) -> bool:
        try:
            return bool(await self._redis.exists(self._prefix + key_id))
        except (redis.RedisError, OSError) as exc:
            log.error("revocations_unavailable", error=repr(exc))
            raise RevocationsUnavailable("the revocation list cannot be read") from exc


@dataclass(frozen=True)
class Claims:
    merchant_id: str
    jti: str
    expires_at: int
    key_id: str
    issued_at: int = 0


def bearer_token(authorization: str | None, max_bytes: int) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        raise InvalidToken("no bearer token", missing=True)
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken("the Authorization header is not a bearer token")
    if len(token) > max_bytes or not _TOKEN.match(token):
        raise InvalidToken("the bearer token is malformed")
    return token


def parse_jwks(doc: Any) -> dict[str, PyJWK]:
    """Ed25519 signing keys by kid; anything else in the set is ignored."""
    keys: dict[str, PyJWK] = {}
    for jwk in doc.get("keys", []) if isinstance(doc, dict) else []:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        if jwk.get("alg", ALGORITHM) != ALGORITHM or jwk.get("use", "sig") != "sig":
            continue
        try:
            keys[jwk["kid"]] = PyJWK(jwk, algorithm=ALGORITHM)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError) as exc:
            log.warning("jwks_key_ignored", kid=jwk["kid"], reason=str(exc))
    return keys


class JwksCache:
    """auth's public keys, refetched when older than `max_age` and on an unknown kid.

    An unknown kid is what a rotation looks like from here (auth signs with a key this cache
    has not seen yet), so such a request waits for a fetch that starts after it arrived and
    is answered from that. Fetches start at most once per `min_interval` (one at a time, the
    others wait for its result), so a flood of forged kids costs auth at most one JWKS read
    per interval and each forged request at most `min_interval` of waiting. A stale cache is
    refreshed by the first request that notices, and only if no fetch is in flight: the
    others carry on with the keys they have. Failed fetches keep the keys we have.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Any]],
        *,
        max_age: float = 15.0,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._fetch = fetch
        self._max_age = max_age
        self._min_interval = min_interval
        self._clock = clock
        self._sleep = sleep
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._started_at: float | None = None  # when the last fetch (good or not) began
        self._lock = asyncio.Lock()
        self.fetches = 0

    def _stale(self, now: float) -> bool:
        return self._fetched_at is None or now - self._fetched_at >= self._max_age

    async def _refresh(self, asked_at: float, *, wait: bool) -> None:
        async with self._lock:
            if self._started_at is not None and self._started_at >= asked_at:
                return  # a fetch that began after the caller asked has just answered
            if self._started_at is not None:
                delay = self._started_at + self._min_interval - self._clock()
                if delay > 0:
                    if not wait:
                        return
                    await self._sleep(delay)
            self._started_at = started = self._clock()
            self.fetches += 1
            try:
                keys = parse_jwks(await self._fetch())
            except Exception as exc:  # any failure keeps the keys we have
                log.warning("jwks_refresh_failed", error=repr(exc))
                return
            if set(keys) != set(self._keys):
                log.info("jwks_changed", kids=sorted(keys), was=sorted(self._keys))
            self._keys, self._fetched_at = keys, started

    async def key(self, kid: str) -> PyJWK | None:
        """The key for `kid`; KeysUnavailable when no key set was ever fetched."""
        now = self._clock()
        if kid not in self._keys:
            await self._refresh(now, wait=True)
        elif self._stale(now) and not self._lock.locked():
            await self._refresh(now, wait=False)
        if self._fetched_at is None:
            raise KeysUnavailable("auth's JWKS could not be fetched")
        return self._keys.get(kid)


class TokenVerifier:
    """Checks a bearer token and returns who it speaks for."""

    def __init__(
        self,
        jwks: JwksCache,
        *,
        issuer: str,
        audience: str,
        leeway: int,
        max_bytes: int,
        revoked: Callable[[str], Awaitable[bool]],
    ) -> None:
        self._jwks = jwks
        self._revoked = revoked
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._max_bytes = max_bytes

    async def verify(self, authorization: str | None) -> Claims:
        """Claims of a valid token; InvalidToken (or KeysUnavailable) otherwise."""
        token = bearer_token(authorization, self._max_bytes)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise InvalidToken("the bearer token is malformed") from exc
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("the token's algorithm is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token has no key id")
        key = await self._jwks.key(kid)
        if key is None:
            raise InvalidToken("the token was signed with an unknown key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the token has expired") from exc
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"the token is not valid: {exc}") from exc
        subject = claims.get("sub")
        if not isinstance(subject, str) or not _SUBJECT.match(subject):
            raise InvalidToken("the token's subject is not a merchant id")
        key_id = claims.get("key_id")
        if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
            raise InvalidToken("the token names no API key")
        if await self._revoked(key_id):
            raise InvalidToken("the token's API key was revoked")
        return Claims(
            subject, str(claims["jti"]), int(claims["exp"]), key_id, issued_at=int(claims["iat"])
        )
