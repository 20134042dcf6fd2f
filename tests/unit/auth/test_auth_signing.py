"""Signing keys: deterministic Ed25519 derivation, JWKS shape, current + previous versions."""

from __future__ import annotations

import json

import jwt
import pytest

from paylab.auth.signing import KeyRing, derive_key, parse_secret

MATERIAL = "a" * 64
OTHER = "b" * 64


class FakeVersions:
    def __init__(self, current: str | None, previous: str | None = None) -> None:
        self.values = {"AWSCURRENT": current, "AWSPREVIOUS": previous}
        self.calls = 0

    def fetch(self, stage: str) -> str | None:
        self.calls += 1
        return self.values[stage]


def secret(kid: str, key: str) -> str:
    return json.dumps({"kid": kid, "key": key})


def test_same_material_gives_the_same_key_everywhere() -> None:
    one, two = derive_key("k1", MATERIAL), derive_key("k1", MATERIAL)
    assert one.public_jwk() == two.public_jwk()
    assert derive_key("k1", OTHER).public_jwk()["x"] != one.public_jwk()["x"]


def test_jwk_is_an_ed25519_okp_key_with_the_kid() -> None:
    jwk = derive_key("initial", MATERIAL).public_jwk()
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["alg"] == "EdDSA"
    assert jwk["kid"] == "initial" and jwk["use"] == "sig"
    assert "d" not in jwk  # the private part is never published


def test_a_token_signed_with_the_derived_key_verifies_with_the_published_jwk() -> None:
    key = derive_key("initial", MATERIAL)
    token = jwt.encode({"sub": "m1"}, key.private, algorithm="EdDSA", headers={"kid": key.kid})
    public = jwt.PyJWK(key.public_jwk())
    assert jwt.decode(token, public.key, algorithms=["EdDSA"])["sub"] == "m1"


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        "[1]",
        json.dumps({"kid": "k"}),
        json.dumps({"kid": "", "key": MATERIAL}),
        json.dumps({"kid": "k", "key": "short"}),
    ],
)
def test_malformed_secrets_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="JWT"):
        parse_secret(value)


def test_ring_signs_with_current_and_publishes_previous() -> None:
    ring = KeyRing(FakeVersions(secret("v2", OTHER), secret("v1", MATERIAL)))
    assert ring.current().kid == "v2"
    assert [k["kid"] for k in ring.jwks()["keys"]] == ["v2", "v1"]


def test_previous_with_the_same_kid_or_broken_is_not_published() -> None:
    same_kid = KeyRing(FakeVersions(secret("v1", OTHER), secret("v1", MATERIAL)))
    assert [k.kid for k in same_kid.verification_keys()] == ["v1"]
    assert same_kid.current().public_jwk() == derive_key("v1", OTHER).public_jwk()
    broken = KeyRing(FakeVersions(secret("v2", OTHER), "garbage"))
    assert [k.kid for k in broken.verification_keys()] == ["v2"]


def test_no_current_version_is_an_error() -> None:
    with pytest.raises(LookupError):
        KeyRing(FakeVersions(None)).current()


def test_keys_are_cached_for_the_ttl_then_reread() -> None:
    now = [100.0]
    source = FakeVersions(secret("v1", MATERIAL))
    ring = KeyRing(source, ttl=60, clock=lambda: now[0])
    ring.current()
    ring.current()
    assert source.calls == 2  # AWSCURRENT + AWSPREVIOUS, once
    source.values["AWSCURRENT"] = secret("v2", OTHER)
    now[0] += 59
    assert ring.current().kid == "v1"
    now[0] += 1
    assert ring.current().kid == "v2"
    source.values["AWSCURRENT"] = secret("v3", MATERIAL)
    ring.invalidate()
    assert ring.current().kid == "v3"
