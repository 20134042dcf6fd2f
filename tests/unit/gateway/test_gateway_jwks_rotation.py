"""JWKS refresh around a key rotation: new kids wait for a fresh set, dropped kids are refused."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from paylab.gateway.settings import GatewaySettings
from paylab.gateway.tokens import InvalidToken, JwksCache, TokenVerifier

ISS, AUD = "https://auth.paylab.dev", "paylab-api"
K0, K1, K2 = (Ed25519PrivateKey.generate() for _ in range(3))


def jwk(private: Ed25519PrivateKey, kid: str) -> dict[str, str]:
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}


def sign(kid: str, key: Ed25519PrivateKey) -> str:
    now = int(time.time())
    claims = {
        "iss": ISS,
        "aud": AUD,
        "sub": "m-1",
        "iat": now,
        "exp": now + 600,
        "jti": "j1",
        "key_id": "0b6f3c1e-2d4a-4f7b-9c8d-1e2f3a4b5c6d",
    }
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


async def not_revoked(_key_id: str) -> bool:
    return False


BEFORE = {"keys": [jwk(K0, "k0")]}
ONE_ROTATION = {"keys": [jwk(K1, "k1"), jwk(K0, "k0")]}
TWO_ROTATIONS = {"keys": [jwk(K2, "k2"), jwk(K1, "k1")]}


class Clock:
    """Fake monotonic time; sleeping moves it on (and lets other tasks run)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class Auth:
    """auth's JWKS endpoint: serves `doc`; `gate` (when set) holds each fetch until opened."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.calls = 0
        self.gate: asyncio.Event | None = None
        self.down = False

    async def __call__(self) -> Any:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise OSError("auth down")
        return self.doc


def gateway(auth: Auth, clock: Clock) -> TokenVerifier:
    cache = JwksCache(auth, max_age=15, min_interval=1, clock=clock, sleep=clock.sleep)
    return TokenVerifier(
        cache, issuer=ISS, audience=AUD, leeway=0, max_bytes=4096, revoked=not_revoked
    )


async def check(v: TokenVerifier, token: str) -> str:
    """'ok' or the refusal's reason."""
    try:
        await v.verify(f"Bearer {token}")
    except InvalidToken as exc:
        return exc.reason
    return "ok"


def test_a_token_of_the_new_key_is_never_refused_right_after_a_refresh() -> None:
    auth, clock = Auth(BEFORE), Clock()
    v = gateway(auth, clock)

    async def scenario() -> None:
        assert await check(v, sign(kid="k0", key=K0)) == "ok"
        clock.now = 0.3  # auth rotates 0.3 s after the gateway's last fetch
        auth.doc = ONE_ROTATION
        assert await check(v, sign(kid="k1", key=K1)) == "ok"
        assert clock.slept == [pytest.approx(0.7)]  # waited for the interval, not refused
        assert await check(v, sign(kid="k0", key=K0)) == "ok"  # previous key still verifies

    asyncio.run(scenario())
    assert auth.calls == 2


def test_requests_waiting_for_a_new_kid_share_one_fetch() -> None:
    auth, clock = Auth(BEFORE), Clock()
    v = gateway(auth, clock)

    async def scenario() -> list[str]:
        await check(v, sign(kid="k0", key=K0))
        clock.now = 5.0
        auth.doc, auth.gate = ONE_ROTATION, asyncio.Event()
        waiting = [asyncio.create_task(check(v, sign(kid="k1", key=K1))) for _ in range(10)]
        await asyncio.sleep(0)
        auth.gate.set()
        return await asyncio.gather(*waiting)

    assert asyncio.run(scenario()) == ["ok"] * 10
    assert auth.calls == 2


def test_forged_kids_cost_auth_at_most_one_fetch_per_interval() -> None:
    auth, clock = Auth(BEFORE), Clock()
    v = gateway(auth, clock)

    async def scenario() -> list[str]:
        await check(v, sign(kid="k0", key=K0))
        clock.now = 0.5
        forged = [check(v, sign(kid=f"forged-{i}", key=K2)) for i in range(20)]
        return await asyncio.gather(*forged)

    assert set(asyncio.run(scenario())) == {"the token was signed with an unknown key"}
    assert auth.calls == 2  # the first load and one refresh, however many forged kids
    assert clock.slept == [0.5]  # one wait, until the interval was over


def test_a_key_two_rotations_old_is_refused_once_the_set_is_refetched() -> None:
    auth, clock = Auth(ONE_ROTATION), Clock()
    v = gateway(auth, clock)

    async def scenario() -> None:
        assert await check(v, sign(kid="k0", key=K0)) == "ok"
        auth.doc = TWO_ROTATIONS
        clock.now = 14.0
        assert await check(v, sign(kid="k0", key=K0)) == "ok"  # cached set, not yet stale
        clock.now = 15.0
        refused = await check(v, sign(kid="k0", key=K0))
        assert refused == "the token was signed with an unknown key"
        assert await check(v, sign(kid="k1", key=K1)) == "ok"
        assert await check(v, sign(kid="k2", key=K2)) == "ok"

    asyncio.run(scenario())
    assert auth.calls == 2


def test_a_stale_refresh_in_flight_does_not_hold_up_known_kids() -> None:
    auth, clock = Auth(BEFORE), Clock()
    v = gateway(auth, clock)

    async def scenario() -> None:
        await check(v, sign(kid="k0", key=K0))
        clock.now = 20.0
        auth.gate = asyncio.Event()
        refreshing = asyncio.create_task(check(v, sign(kid="k0", key=K0)))
        await asyncio.sleep(0)
        assert auth.calls == 2  # the stale set is being refetched, and auth is slow
        assert await check(v, sign(kid="k0", key=K0)) == "ok"  # answered from the cache
        auth.gate.set()
        assert await refreshing == "ok"

    asyncio.run(scenario())
    assert auth.calls == 2


def test_a_failed_refresh_keeps_the_keys_and_is_not_retried_before_the_interval() -> None:
    auth, clock = Auth(BEFORE), Clock()
    v = gateway(auth, clock)

    async def scenario() -> None:
        await check(v, sign(kid="k0", key=K0))
        auth.down = True
        clock.now = 16.0
        assert await check(v, sign(kid="k0", key=K0)) == "ok"
        clock.now = 16.5
        assert await check(v, sign(kid="k0", key=K0)) == "ok"  # no new attempt yet

    asyncio.run(scenario())
    assert auth.calls == 2


def test_default_refresh_timing_suits_rotation() -> None:
    settings = GatewaySettings()
    assert settings.jwks_refresh_min_interval_seconds <= 1.0  # the longest a new kid waits
    assert settings.jwks_max_age_seconds <= 30.0  # how long a dropped key is still accepted
