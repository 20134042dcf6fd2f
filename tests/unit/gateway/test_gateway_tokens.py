"""Bearer tokens: every bad case is refused; the JWKS is refreshed sparingly."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import jwt
import pytest
import redis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from paylab.auth.settings import AuthSettings
from paylab.gateway.settings import GatewaySettings
from paylab.gateway.tokens import (
    InvalidToken,
    JwksCache,
    KeysUnavailable,
    RedisRevocations,
    RevocationsUnavailable,
    TokenVerifier,
    bearer_token,
)

ISS, AUD = "https://auth.paylab.dev", "paylab-api"
KEY = Ed25519PrivateKey.generate()
KEY_ID = "0b6f3c1e-2d4a-4f7b-9c8d-1e2f3a4b5c6d"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk(private: Ed25519PrivateKey, kid: str) -> dict[str, str]:
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64(raw), "kid": kid, "alg": "EdDSA", "use": "sig"}


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISS,
        "aud": AUD,
        "sub": "m-1",
        "iat": now,
        "exp": now + 600,
        "jti": "j1",
        "key_id": KEY_ID,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(body: dict[str, Any] | None = None, kid: str = "k1", key: Any = KEY) -> str:
    return jwt.encode(body or claims(), key, algorithm="EdDSA", headers={"kid": kid})


class Fetcher:
    def __init__(self, *docs: Any) -> None:
        self.docs = list(docs)
        self.calls = 0

    async def __call__(self) -> Any:
        self.calls += 1
        doc = self.docs[min(self.calls, len(self.docs)) - 1]
        if isinstance(doc, Exception):
            raise doc
        return doc


class Revoked:
    """The revocation list: a set of key ids, or an outage."""

    def __init__(self, *key_ids: str, down: bool = False) -> None:
        self.key_ids = set(key_ids)
        self.down = down
        self.asked: list[str] = []

    async def __call__(self, key_id: str) -> bool:
        self.asked.append(key_id)
        if self.down:
            raise RevocationsUnavailable("redis down")
        return key_id in self.key_ids


def verifier(
    fetch: Fetcher, clock: list[float] | None = None, revoked: Revoked | None = None
) -> TokenVerifier:
    now = clock or [0.0]

    async def sleep(seconds: float) -> None:  # waiting moves the fake clock on
        now[0] += seconds

    cache = JwksCache(fetch, max_age=300, min_interval=30, clock=lambda: now[0], sleep=sleep)
    return TokenVerifier(
        cache,
        issuer=ISS,
        audience=AUD,
        leeway=0,
        max_bytes=4096,
        revoked=revoked or Revoked(),
    )


def verify(v: TokenVerifier, token: str | None) -> Any:
    header = None if token is None else f"Bearer {token}"
    return asyncio.run(v.verify(header))


GOOD_JWKS = {"keys": [jwk(KEY, "k1")]}


def test_a_valid_token_names_its_merchant() -> None:
    result = verify(verifier(Fetcher(GOOD_JWKS)), sign())
    assert result.merchant_id == "m-1" and result.jti == "j1" and result.key_id == KEY_ID


def test_a_revoked_keys_token_is_refused_at_once() -> None:
    revoked = Revoked()
    v = verifier(Fetcher(GOOD_JWKS), revoked=revoked)
    token = sign()
    assert verify(v, token).key_id == KEY_ID
    revoked.key_ids.add(KEY_ID)
    with pytest.raises(InvalidToken, match="revoked"):
        verify(v, token)
    assert revoked.asked == [KEY_ID, KEY_ID]  # asked on every request, never cached


def test_the_revocation_list_down_means_unavailable_not_accepted() -> None:
    with pytest.raises(KeysUnavailable):
        verify(verifier(Fetcher(GOOD_JWKS), revoked=Revoked(down=True)), sign())


def test_redis_revocations_read_the_prefixed_key_and_fail_closed() -> None:
    class FakeRedis:
        def __init__(self, error: Exception | None = None) -> None:
            self.error = error
            self.keys: list[str] = []

        async def exists(self, key: str) -> int:
            self.keys.append(key)
            if self.error:
                raise self.error
            return 1 if key.endswith("gone") else 0

    client = FakeRedis()
    check = RedisRevocations(client, "p:")  # type: ignore[arg-type]
    assert asyncio.run(check("gone")) is True and asyncio.run(check("kept")) is False
    assert client.keys == ["p:gone", "p:kept"]
    broken = RedisRevocations(FakeRedis(redis.ConnectionError("down")), "p:")  # type: ignore[arg-type]
    with pytest.raises(RevocationsUnavailable):
        asyncio.run(broken("x"))


def _none_token() -> str:
    header = b64(json.dumps({"alg": "none", "kid": "k1", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims()).encode())}."


def _hs_with_public_key() -> str:
    public = jwk(KEY, "k1")["x"].encode()
    header = b64(json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims()).encode())
    import hashlib
    import hmac

    sig = hmac.new(public, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(sig)}"


def _tampered() -> str:
    header, _, sig = sign().split(".")
    return f"{header}.{b64(json.dumps(claims(sub='m-2')).encode())}.{sig}"


RSA = generate_private_key(public_exponent=65537, key_size=2048)
BAD_TOKENS = {
    "expired": lambda: sign(claims(exp=int(time.time()) - 10, iat=int(time.time()) - 700)),
    "wrong audience": lambda: sign(claims(aud="someone-else")),
    "wrong issuer": lambda: sign(claims(iss="https://evil")),
    "no exp": lambda: sign(claims(exp=None)),
    "no jti": lambda: sign(claims(jti=None)),
    "no sub": lambda: sign(claims(sub=None)),
    "no key_id": lambda: sign(claims(key_id=None)),
    "key_id not an id": lambda: sign(claims(key_id="a:b*")),
    "sub not an id": lambda: sign(claims(sub="m-1\r\nX-Paylab-Merchant-Id: m-2")),
    "not yet valid": lambda: sign(claims(nbf=int(time.time()) + 600)),
    "alg none": _none_token,
    "HS256 with the public key": _hs_with_public_key,
    "RS256": lambda: jwt.encode(claims(), RSA, algorithm="RS256", headers={"kid": "k1"}),
    "tampered payload": _tampered,
    "other Ed25519 key, same kid": lambda: sign(key=Ed25519PrivateKey.generate()),
    "unknown kid": lambda: sign(kid="nope"),
    "no kid": lambda: jwt.encode(claims(), KEY, algorithm="EdDSA"),
    "garbage": lambda: "not-a-jwt",
    "three garbage parts": lambda: "a.b.c",
    "huge": lambda: "a" * 5000 + ".b.c",
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_bad_tokens_are_refused(case: str) -> None:
    with pytest.raises(InvalidToken) as info:
        verify(verifier(Fetcher(GOOD_JWKS)), BAD_TOKENS[case]())
    assert not info.value.missing


@pytest.mark.parametrize("header", [None, ""])
def test_missing_header_is_flagged_as_missing(header: str | None) -> None:
    with pytest.raises(InvalidToken) as info:
        bearer_token(header, 4096)
    assert info.value.missing


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer a.b.c d", "Token a.b.c"])
def test_non_bearer_headers_are_invalid(header: str) -> None:
    with pytest.raises(InvalidToken):
        bearer_token(header, 4096)


def test_scheme_is_case_insensitive() -> None:
    assert bearer_token("bearer a.b.c", 4096) == "a.b.c"


def test_jwks_keeps_only_ed25519_signing_keys() -> None:
    odd = [
        {"kty": "RSA", "kid": "r", "n": "x", "e": "AQAB"},
        {**jwk(KEY, "enc"), "use": "enc"},
        {**jwk(KEY, "hs"), "alg": "HS256"},
        {"kty": "oct", "kid": "k1", "k": "c2VjcmV0"},
        "junk",
    ]
    v = verifier(Fetcher({"keys": [*odd, jwk(KEY, "k1")]}))
    assert verify(v, sign()).merchant_id == "m-1"
    for kid in ("r", "enc", "hs"):
        with pytest.raises(InvalidToken, match="unknown key"):
            verify(v, sign(kid=kid))


def test_an_unknown_kid_waits_for_the_next_allowed_refresh_then_verifies() -> None:
    new_key = Ed25519PrivateKey.generate()
    rotated = {"keys": [jwk(new_key, "k2"), jwk(KEY, "k1")]}
    fetch, clock = Fetcher(GOOD_JWKS, rotated), [0.0]
    v = verifier(fetch, clock)
    assert verify(v, sign()).merchant_id == "m-1"
    clock[0] = 10.0
    # auth rotated: the new kid is not refused, it waits until a refresh is allowed (30 s)
    assert verify(v, sign(kid="k2", key=new_key)).merchant_id == "m-1"
    assert (fetch.calls, clock[0]) == (2, 30.0)
    assert verify(v, sign()).merchant_id == "m-1"  # the previous key still verifies
    assert fetch.calls == 2


def test_stale_keys_are_refreshed_and_kept_when_auth_is_down() -> None:
    fetch, clock = Fetcher(GOOD_JWKS, OSError("auth down")), [0.0]
    v = verifier(fetch, clock)
    verify(v, sign())
    clock[0] = 301.0
    assert verify(v, sign()).merchant_id == "m-1"
    assert fetch.calls == 2


def test_no_keys_at_all_means_unavailable_not_unauthorized() -> None:
    with pytest.raises(KeysUnavailable):
        verify(verifier(Fetcher(OSError("auth down"))), sign())


def test_gateway_defaults_match_the_tokens_auth_issues() -> None:
    auth, gateway = AuthSettings(), GatewaySettings()
    assert (gateway.jwt_issuer, gateway.jwt_audience) == (auth.issuer, auth.audience)
    assert gateway.revocation_key_prefix == auth.revocation_key_prefix


def test_upstream_urls_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        GatewaySettings(payment_url="ftp://x")
    assert GatewaySettings(payment_url="http://h:1/").upstream_url("payment") == "http://h:1"
