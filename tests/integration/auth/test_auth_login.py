"""Login: a valid key pair gets an EdDSA token; every bad pair gets the same 401."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from paylab.auth.settings import AuthSettings
from paylab.core.db import service_engine


def login(client: TestClient, public_key: str, private_key: str, **kw: Any) -> Any:
    return client.post(
        "/v1/auth/login", json={"public_key": public_key, "private_key": private_key}, **kw
    )


def test_a_valid_pair_gets_a_token_the_jwks_verifies(
    auth_client: TestClient, issue_key: Callable[..., dict[str, Any]]
) -> None:
    key = issue_key()
    response = login(auth_client, key["public_key"], key["private_key"])
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"bearer_token", "expires_in"} and body["expires_in"] == 3600
    jwks = auth_client.get("/.well-known/jwks.json").json()
    kid = jwt.get_unverified_header(body["bearer_token"])["kid"]
    public = next(jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == kid)
    settings = AuthSettings()
    claims = jwt.decode(
        body["bearer_token"],
        public.key,
        algorithms=["EdDSA"],
        audience=settings.audience,
        issuer=settings.issuer,
    )
    assert claims["sub"] == key["merchant_id"]
    assert claims["exp"] - claims["iat"] == 3600 and claims["jti"]


def test_unknown_wrong_and_revoked_keys_all_get_the_same_401(
    auth_client: TestClient,
    issue_key: Callable[..., dict[str, Any]],
    internal_headers: dict[str, str],
) -> None:
    key, revoked = issue_key(), issue_key()
    assert (
        auth_client.delete(
            f"/internal/api-keys/{revoked['public_key']}", headers=internal_headers
        ).status_code
        == 204
    )
    answers = [
        login(auth_client, key["public_key"], key["private_key"] + "x"),
        login(auth_client, key["public_key"], issue_key()["private_key"]),
        login(auth_client, "pub_" + "0" * 32, key["private_key"]),
        login(auth_client, revoked["public_key"], revoked["private_key"]),
    ]
    assert {r.status_code for r in answers} == {401}
    assert len({r.text for r in answers}) == 1
    assert answers[0].headers["content-type"] == "application/problem+json"
    assert answers[0].headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"public_key": "p"},
        {"public_key": 1, "private_key": 2},
        {"public_key": "", "private_key": "x"},
        {"public_key": "p", "private_key": "x" * 300},
        {"public_key": "pub_\x00", "private_key": "x"},  # once a 500: Postgres refuses NUL
        {"public_key": "pub_1", "private_key": "prv 1"},
    ],
)
def test_malformed_bodies_get_a_422_problem(auth_client: TestClient, body: dict[str, Any]) -> None:
    response = auth_client.post("/v1/auth/login", json=body)
    assert response.status_code == 422
    assert response.json()["errors"]


def test_private_keys_are_stored_only_as_their_digest(
    issue_key: Callable[..., dict[str, Any]],
) -> None:
    key = issue_key()
    engine = service_engine("auth", pool_size=1)
    with engine.connect() as conn:
        row = (
            conn.execute(
                text("SELECT * FROM auth.api_keys WHERE public_key = :p"), {"p": key["public_key"]}
            )
            .mappings()
            .one()
        )
    engine.dispose()
    assert bytes(row["private_key_sha256"]) == hashlib.sha256(key["private_key"].encode()).digest()
    assert all(key["private_key"] not in str(value) for value in row.values())
