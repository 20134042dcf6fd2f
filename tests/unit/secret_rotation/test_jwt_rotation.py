"""JWT key rotation: auth signs with the new kid, verifies current and previous, drops older."""

from __future__ import annotations

import json

from paylab.auth.signing import KeyRing, SecretsManagerVersions
from paylab.lambdas import rotate_base, rotate_jwt_key

from .fakes import FakeSecretsManager

SECRET = "paylab/jwt-signing-key"


def _rotate(sm: FakeSecretsManager) -> None:
    token = sm.start_rotation(SECRET)
    for step in rotate_base.STEPS:
        event = {"SecretId": SECRET, "ClientRequestToken": token, "Step": step}
        rotate_base.run(event, rotate_jwt_key.ROTATION, sm)


def _kids(sm: FakeSecretsManager) -> list[str]:
    ring = KeyRing(SecretsManagerVersions(SECRET, sm), check_interval=0)
    return [jwk["kid"] for jwk in ring.jwks()["keys"]]


def test_a_key_older_than_the_previous_one_is_no_longer_published() -> None:
    sm = FakeSecretsManager()
    sm.create(SECRET, json.dumps({"kid": "initial", "key": "k" * 64}))
    assert _kids(sm) == ["initial"]
    _rotate(sm)
    first = _kids(sm)
    assert len(first) == 2
    assert first[0] != "initial"
    assert first[1] == "initial"  # tokens signed just before the rotation still verify
    _rotate(sm)
    second = _kids(sm)
    assert second[1] == first[0]
    assert "initial" not in second  # two rotations old: its tokens are rejected
    ring = KeyRing(SecretsManagerVersions(SECRET, sm), check_interval=0)
    assert ring.current().kid == second[0]
