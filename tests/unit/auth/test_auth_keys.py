"""API keys and tokens: high-entropy key pairs, digests, the claims of an issued token."""

from __future__ import annotations

import json
import time
import uuid

import jwt

from paylab.auth.service import issue_token, new_key_pair, private_key_digest
from paylab.auth.settings import AuthSettings
from paylab.auth.signing import KeyRing


class OneVersion:
    def stages(self) -> dict[str, str]:
        return {"AWSCURRENT": "v1"}

    def fetch(self, version_id: str) -> str:
        assert version_id == "v1"
        return json.dumps({"kid": "k1", "key": "z" * 64})


def test_key_pairs_are_prefixed_random_and_unique() -> None:
    pairs = {new_key_pair() for _ in range(200)}
    assert len(pairs) == 200
    public, private = next(iter(pairs))
    assert public.startswith("pub_") and len(public) == 4 + 32
    assert private.startswith("prv_") and len(private) >= 4 + 43  # 256 random bits


def test_digest_is_sha256_and_distinguishes_keys() -> None:
    _, one = new_key_pair()
    _, two = new_key_pair()
    assert len(private_key_digest(one)) == 32
    assert private_key_digest(one) == private_key_digest(one) != private_key_digest(two)


def test_issued_token_carries_the_contract_claims_and_kid() -> None:
    settings = AuthSettings(token_ttl_seconds=600)
    ring = KeyRing(OneVersion())
    now = time.time()
    key_id = uuid.uuid4()
    token = issue_token(ring, settings, "merchant-1", key_id=key_id, now=now)
    assert token.expires_in == 600
    header = jwt.get_unverified_header(token.token)
    assert header["alg"] == "EdDSA" and header["kid"] == "k1"
    public = jwt.PyJWK(ring.jwks()["keys"][0]).key
    claims = jwt.decode(
        token.token,
        public,
        algorithms=["EdDSA"],
        audience=settings.audience,
        issuer=settings.issuer,
    )
    assert claims["sub"] == "merchant-1"
    assert claims["exp"] - claims["iat"] == 600
    assert len(claims["jti"]) == 32
    assert claims["key_id"] == str(key_id)  # what the gateway checks against revocations
    again = issue_token(ring, settings, "merchant-1", key_id=key_id, now=now)
    assert again.token != token.token  # new jti
