"""Seeded randomness: every random choice a simulator makes comes from here."""

from __future__ import annotations

import random


class SeededRandom:
    """Named random streams derived from one seed.

    Each concern (fault rolls, jitter, ids) draws from its own stream so that adding a fault
    rule does not shift the ids the simulator hands out, and the same seed with the same
    requests gives the same outcomes.
    """

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._streams: dict[str, random.Random] = {}

    @property
    def seed(self) -> int:
        """The seed in force."""
        return self._seed

    def stream(self, name: str) -> random.Random:
        """The stream for one concern; the same object across reseeds."""
        rng = self._streams.get(name)
        if rng is None:
            rng = random.Random(f"{self._seed}:{name}")  # noqa: S311 - simulation, not crypto
            self._streams[name] = rng
        return rng

    def reseed(self, seed: int | None = None) -> None:
        """Restart every stream from `seed` (or the current seed)."""
        if seed is not None:
            self._seed = seed
        for name, rng in self._streams.items():
            rng.seed(f"{self._seed}:{name}")

    def new_id(self, prefix: str) -> str:
        """A reproducible identifier such as `auth_5f1c0a9e2b7d`."""
        return f"{prefix}_{self.stream('ids').getrandbits(48):012x}"
