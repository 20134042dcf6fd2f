"""Rotation Lambda for the JWT signing key: a new `kid` and new key material.

Nothing outside the secret has to change: auth signs with AWSCURRENT and its JWKS publishes
AWSCURRENT and AWSPREVIOUS, so tokens signed just before the rotation verify until they
expire, and a token signed with a key older than the previous one no longer verifies.
"""

from __future__ import annotations

import time
from typing import Any

from paylab.lambdas.rotate_base import Rotation, RotationError, random_token, run

_MIN_MATERIAL = 32


def generate(current: dict[str, Any]) -> dict[str, Any]:
    """A fresh kid (sortable by time, unique) and 64 random characters of key material."""
    kid = f"k{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{random_token(6).lower()}"
    if kid == current.get("kid"):
        raise RotationError("the new kid equals the current one")
    return {"kid": kid, "key": random_token(64)}


def apply(_pending: dict[str, Any], _current: dict[str, Any]) -> None:
    """Nothing to set: auth and the gateway read the keys from the secret itself."""


def test(pending: dict[str, Any]) -> None:
    """The new version must be a usable key: a kid and enough material."""
    kid, key = pending.get("kid"), pending.get("key")
    if not isinstance(kid, str) or not kid:
        raise RotationError("the pending JWT key has no kid")
    if not isinstance(key, str) or len(key) < _MIN_MATERIAL:
        raise RotationError("the pending JWT key material is too short")


ROTATION = Rotation(generate=generate, apply=apply, test=test)


def handler(event: dict[str, Any], _context: Any) -> None:
    """Secrets Manager's rotation entry point."""
    run(event, ROTATION)
