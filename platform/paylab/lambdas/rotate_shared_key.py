"""Rotation code for the shared keys: the operator key (X-Paylab-Ops-Key) and the internal
service credential (X-Paylab-Internal-Key), each rotated by its own function running this
code. Each rotation is a new random 48-character key.

Nothing outside the secret has to change, because whoever checks the key reads the secret:
- the gateway compares operators' keys with AWSCURRENT and reads the secret again when a
  presented key does not match (at most once a second), so a new operator key works within
  a second of becoming AWSCURRENT and the old one stops there;
- the services accept the internal credential at AWSCURRENT, read it again on a mismatch,
  and accept AWSPREVIOUS for 15 minutes after the rotation (`paylab.core.accepted_keys`),
  so callers holding the old value keep working until they read the secret again (every
  caller also does that, and resends once, when refused).
Operators read the operator key when they need it (`paylab secrets operator-key`).
"""

from __future__ import annotations

from typing import Any

from paylab.lambdas.rotate_base import Rotation, RotationError, random_token, run

_LENGTH = 48


def generate(current: dict[str, Any]) -> dict[str, Any]:
    """The same secret with a new 48-character key."""
    key = random_token(_LENGTH)
    if key == current.get("password"):
        raise RotationError("the new key equals the current one")
    return {**current, "password": key}


def apply(_pending: dict[str, Any], _current: dict[str, Any]) -> None:
    """Nothing to set: the gateway and the services read the key from the secret itself."""


def test(pending: dict[str, Any]) -> None:
    """The new version must carry a key of full length."""
    key = pending.get("password")
    if not isinstance(key, str) or len(key) < _LENGTH:
        raise RotationError("the pending key is missing or too short")


ROTATION = Rotation(generate=generate, apply=apply, test=test)


def handler(event: dict[str, Any], _context: Any) -> None:
    """Secrets Manager's rotation entry point."""
    run(event, ROTATION)
