"""Every bad bearer token gets a 401 problem with an RFC 6750 challenge, before any upstream."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient

from paylab.auth.settings import AuthSettings
from paylab.auth.signing import KeyRing

from .servers import EchoUpstream, ServerThread


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(ring: KeyRing, **overrides: Any) -> str:
    settings, now = AuthSettings(), int(time.time())
    claims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": "it-gw-x",
        "iat": now,
        "exp": now + 300,
        "jti": "j",
        "key_id": str(uuid.uuid4()),  # a key nobody revoked
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    key = ring.current()
    return jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid})


def unsigned(token: str, alg: str, signature: bytes = b"") -> str:
    _, body, _ = token.split(".")
    header = b64(json.dumps({"alg": alg, "kid": "initial", "typ": "JWT"}).encode())
    return f"{header}.{body}.{b64(signature)}"


def hs256_with_public_key(auth_url: str, token: str) -> str:
    jwk = httpx.get(auth_url + "/.well-known/jwks.json").json()["keys"][0]
    _, body, _ = token.split(".")
    header = b64(json.dumps({"alg": "HS256", "kid": jwk["kid"], "typ": "JWT"}).encode())
    sig = hmac.new(jwk["x"].encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(sig)}"


def tampered(token: str) -> str:
    header, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["sub"] = "it-gw-someone-else"
    return f"{header}.{b64(json.dumps(claims).encode())}.{sig}"


CASES: dict[str, Callable[[KeyRing, str], str]] = {
    "expired": lambda r, _: mint(r, exp=int(time.time()) - 120, iat=int(time.time()) - 500),
    "wrong audience": lambda r, _: mint(r, aud="another-api"),
    "wrong issuer": lambda r, _: mint(r, iss="https://evil.example"),
    "no API key id": lambda r, _: mint(r, key_id=None),
    "tampered": lambda r, _: tampered(mint(r)),
    "alg none": lambda r, _: unsigned(mint(r), "none"),
    "HS256 signed with the public key": lambda r, url: hs256_with_public_key(url, mint(r)),
    "unknown kid": lambda r, _: jwt.encode(
        {"sub": "x"}, r.current().private, algorithm="EdDSA", headers={"kid": "nope"}
    ),
    "malformed": lambda r, _: "definitely.not.jwt",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_tokens_get_401_invalid_token(
    gateway: TestClient,
    ring: KeyRing,
    auth_server: ServerThread,
    upstream: EchoUpstream,
    case: str,
) -> None:
    before = len(upstream.received)
    token = CASES[case](ring, auth_server.url)
    response = gateway.get("/v1/payments/p-1", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, case
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    assert len(upstream.received) == before


@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwYXNz", "Bearer"])
def test_missing_or_non_bearer_credentials_get_401(
    gateway: TestClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = gateway.get("/v1/merchants/me/balance", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="paylab"')
    if authorization is None:  # RFC 6750 §3.1: no error code without credentials
        assert "error=" not in response.headers["www-authenticate"]


def test_a_token_minted_with_the_real_key_passes(gateway: TestClient, ring: KeyRing) -> None:
    response = gateway.get("/v1/payments/p-1", headers={"Authorization": f"Bearer {mint(ring)}"})
    assert response.status_code == 200
