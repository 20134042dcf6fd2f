"""Seeded randomness: every random choice a simulator makes comes from here."""

from __future__ import annotations

import random

_IDS = "ids"  # the stream identifiers come from


class SeededRandom:
    """Named random streams derived from one seed.

    Each concern (fault rolls, jitter, ids) draws from its own stream so that adding a fault
    rule does not shift the ids the simulator hands out, and the same seed with the same
    requests gives the same outcomes.

    Identifiers are the exception across a reseed: like a real partner's, an id is not handed
    out again by the same process after a reset or a reseed (the platform still holds the old
    ones: a new authorization under an old payment's id would take that payment's refund).
    Each reseed moves the id stream to a new epoch; a fresh process with the same seed (and
    no saved state) hands out the same ids again, and one that restores a saved state resumes
    after the epochs the saving process used (`resume`).
    """

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._streams: dict[str, random.Random] = {}
        self._epoch = 0

    @property
    def seed(self) -> int:
        """The seed in force."""
        return self._seed

    def stream(self, name: str) -> random.Random:
        """The stream for one concern; the same object across reseeds."""
        rng = self._streams.get(name)
        if rng is None:
            rng = random.Random(self._stream_seed(name))  # noqa: S311 - simulation, not crypto
            self._streams[name] = rng
        return rng

    def _stream_seed(self, name: str) -> str:
        return f"{self._seed}:{name}:{self._epoch}" if name == _IDS else f"{self._seed}:{name}"

    @property
    def epoch(self) -> int:
        """How many times the id stream moved on (saved with a simulator's state)."""
        return self._epoch

    def resume(self, seed: int, epoch: int) -> None:
        """Carry on from a saved process: its seed, and an id epoch after every one it used."""
        self._epoch = max(self._epoch, epoch)
        self.reseed(seed)

    def reseed(self, seed: int | None = None) -> None:
        """Restart every stream from `seed` (or the current seed)."""
        if seed is not None:
            self._seed = seed
        self._epoch += 1
        for name, rng in self._streams.items():
            rng.seed(self._stream_seed(name))

    def new_id(self, prefix: str) -> str:
        """An identifier such as `auth_5f1c0a9e2b7d`: reproducible, never repeated by a reseed."""
        return f"{prefix}_{self.stream(_IDS).getrandbits(48):012x}"
