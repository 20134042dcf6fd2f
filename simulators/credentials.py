"""Credentials a simulator makes for itself, from the OS's CSPRNG rather than the seeded streams.

A secret drawn from the seed would be as guessable as a literal (the default seed is 0), and
no simulated outcome depends on it, so the same seed still gives the same outcomes.
"""

from __future__ import annotations

import secrets


def random_secret() -> str:
    """A fresh 256-bit secret as 64 hex characters."""
    return secrets.token_hex(32)
