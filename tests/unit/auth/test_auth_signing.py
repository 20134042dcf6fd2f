"""Signing keys: deterministic Ed25519 derivation, JWKS shape, current + previous versions."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
from botocore.exceptions import EndpointConnectionError

from paylab.auth.settings import AuthSettings
from paylab.auth.signing import KeyRing, derive_key, parse_secret

MATERIAL = "a" * 64
OTHER = "b" * 64


class FakeVersions:
    """A secret's versions by id, with AWSCURRENT / AWSPREVIOUS labels; counts calls."""

    def __init__(self, current: str | None, previous: str | None = None) -> None:
        self.values: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.describes = self.reads = 0
        self.error: Exception | None = None
        if previous is not None:
            self.put(previous)
        if current is not None:
            self.put(current)

    def put(self, value: str) -> None:
        """A rotation: the new value becomes current, the current one previous."""
        version = f"v{len(self.values) + 1}"
        self.values[version] = value
        if "AWSCURRENT" in self.labels:
            self.labels["AWSPREVIOUS"] = self.labels["AWSCURRENT"]
        self.labels["AWSCURRENT"] = version

    def stages(self) -> dict[str, str]:
        self.describes += 1
        if self.error is not None:
            raise self.error
        return {**self.labels, "AWSPENDING": "pending-ignored"}

    def fetch(self, version_id: str) -> str:
        self.reads += 1
        return self.values[version_id]


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


def test_between_checks_no_call_is_made() -> None:
    now = [100.0]
    source = FakeVersions(secret("v1", MATERIAL))
    ring = KeyRing(source, check_interval=2.0, clock=lambda: now[0])
    for _ in range(5):
        ring.current()
        ring.jwks()
        now[0] += 0.3
    assert (source.describes, source.reads) == (1, 1)


def test_a_rotation_is_signed_with_within_the_check_interval() -> None:
    now = [100.0]
    source = FakeVersions(secret("k0", MATERIAL))
    ring = KeyRing(source, check_interval=2.0, clock=lambda: now[0])
    assert ring.current().kid == "k0"
    source.put(secret("k1", OTHER))
    now[0] += 1.9
    assert ring.current().kid == "k0"  # not checked yet: k0 is still valid (AWSPREVIOUS)
    now[0] += 0.1
    assert ring.current().kid == "k1"
    assert [k["kid"] for k in ring.jwks()["keys"]] == ["k1", "k0"]
    assert ring.current().public_jwk() == derive_key("k1", OTHER).public_jwk()
    assert source.reads == 2  # k0 was reused, only the new version was read


def test_unchanged_versions_are_not_read_again() -> None:
    now = [0.0]
    source = FakeVersions(secret("k1", OTHER), secret("k0", MATERIAL))
    ring = KeyRing(source, check_interval=1.0, clock=lambda: now[0])
    ring.current()
    for _ in range(10):
        now[0] += 1.0
        ring.current()
    assert source.describes == 11
    assert source.reads == 2  # AWSCURRENT and AWSPREVIOUS, once each


def test_a_key_two_rotations_old_leaves_the_ring() -> None:
    now = [0.0]
    source = FakeVersions(secret("k0", "0" * 64))
    ring = KeyRing(source, check_interval=1.0, clock=lambda: now[0])
    ring.current()
    source.put(secret("k1", "1" * 64))
    source.put(secret("k2", "2" * 64))
    now[0] += 1.0
    assert [k.kid for k in ring.verification_keys()] == ["k2", "k1"]


def test_secrets_manager_down_keeps_signing_with_the_keys_it_has() -> None:
    now = [0.0]
    source = FakeVersions(secret("k0", MATERIAL))
    ring = KeyRing(source, check_interval=1.0, clock=lambda: now[0])
    ring.current()
    source.error = EndpointConnectionError(endpoint_url="http://127.0.0.1:4566")
    now[0] += 5.0
    assert ring.current().kid == "k0"
    assert ring.current().kid == "k0"
    assert source.describes == 2  # a failed check also waits for the interval
    source.error = None
    source.put(secret("k1", OTHER))
    now[0] += 1.0
    assert ring.current().kid == "k1"


def test_without_keys_a_failed_check_is_an_error() -> None:
    source = FakeVersions(secret("k0", MATERIAL))
    source.error = EndpointConnectionError(endpoint_url="http://127.0.0.1:4566")
    with pytest.raises(EndpointConnectionError):
        KeyRing(source).current()


def test_invalidate_checks_again_at_once() -> None:
    now = [0.0]
    source = FakeVersions(secret("k0", MATERIAL))
    ring = KeyRing(source, check_interval=60.0, clock=lambda: now[0])
    ring.current()
    source.put(secret("k1", OTHER))
    ring.invalidate()
    assert ring.current().kid == "k1"


def test_concurrent_logins_after_a_rotation_check_once() -> None:
    now = [0.0]
    source = FakeVersions(secret("k0", MATERIAL))
    ring = KeyRing(source, check_interval=2.0, clock=lambda: now[0])
    ring.current()
    source.put(secret("k1", OTHER))
    now[0] += 2.0
    with ThreadPoolExecutor(8) as pool:
        kids = list(pool.map(lambda _: ring.current().kid, range(32)))
    assert kids == ["k1"] * 32
    assert source.describes == 2


def test_default_check_interval_picks_up_a_rotation_in_seconds() -> None:
    assert AuthSettings().signing_key_check_seconds <= 5.0
