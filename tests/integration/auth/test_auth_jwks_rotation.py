"""Rotation: JWKS lists the current and previous key versions; both verify tokens."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import jwt
from fastapi.testclient import TestClient

from paylab.auth.signing import derive_key

from ..resources import AwsClients


def test_current_signs_previous_still_verifies(
    aws: AwsClients,
    secretsmanager_create_secret: Callable[..., dict[str, Any]],
    make_auth_client: Callable[..., TestClient],
    issue_key: Callable[..., dict[str, Any]],
) -> None:
    old_material, new_material = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
    arn = secretsmanager_create_secret(SecretString=json.dumps({"kid": "v1", "key": old_material}))[
        "ARN"
    ]
    aws.secretsmanager.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"kid": "v2", "key": new_material})
    )
    client = make_auth_client(jwt_secret_id=arn)
    jwks = client.get("/.well-known/jwks.json")
    assert jwks.headers["cache-control"].startswith("public")
    keys = {k["kid"]: k for k in jwks.json()["keys"]}
    assert list(keys) == ["v2", "v1"]

    key = issue_key()
    body = {"public_key": key["public_key"], "private_key": key["private_key"]}
    token = client.post("/v1/auth/login", json=body).json()["bearer_token"]
    assert jwt.get_unverified_header(token)["kid"] == "v2"
    jwt.decode(
        token, jwt.PyJWK(keys["v2"]).key, algorithms=["EdDSA"], options={"verify_aud": False}
    )

    old = derive_key("v1", old_material)
    old_token = jwt.encode({"sub": "m"}, old.private, algorithm="EdDSA", headers={"kid": "v1"})
    assert jwt.decode(old_token, jwt.PyJWK(keys["v1"]).key, algorithms=["EdDSA"])["sub"] == "m"
