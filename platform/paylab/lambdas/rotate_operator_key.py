"""Rotation Lambda for the operator key (X-Paylab-Ops-Key): a new random key.

Nothing outside the secret has to change: the gateway compares the key operators present
with AWSCURRENT and reads the secret again when a presented key does not match (at most once
a second), so the new key works within a second of becoming AWSCURRENT and the old one
stops there.
Operators read the key when they need it (`paylab secrets operator-key`).
"""

from __future__ import annotations

from typing import Any

from paylab.lambdas.rotate_base import Rotation, RotationError, random_token, run

_LENGTH = 48


def generate(current: dict[str, Any]) -> dict[str, Any]:
    """The same secret with a new 48-character key."""
    key = random_token(_LENGTH)
    if key == current.get("password"):
        raise RotationError("the new operator key equals the current one")
    return {**current, "password": key}


def apply(_pending: dict[str, Any], _current: dict[str, Any]) -> None:
    """Nothing to set: the gateway reads the key from the secret itself."""


def test(pending: dict[str, Any]) -> None:
    """The new version must carry a key of full length."""
    key = pending.get("password")
    if not isinstance(key, str) or len(key) < _LENGTH:
        raise RotationError("the pending operator key is missing or too short")


ROTATION = Rotation(generate=generate, apply=apply, test=test)


def handler(event: dict[str, Any], _context: Any) -> None:
    """Secrets Manager's rotation entry point."""
    run(event, ROTATION)
