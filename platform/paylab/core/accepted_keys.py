"""Which values of a shared key (the internal service credential) a receiver accepts.

A shared key cannot change in every process at one instant: after a rotation, callers hold
the old value until they read the secret again. So a receiver accepts AWSCURRENT and, for a
grace after the rotation, AWSPREVIOUS. The grace runs from the later of the new version's
creation (Secrets Manager's CreatedDate) and the moment this process first saw it replace
another: a rotation resumed long after its createSecret step still gets the whole grace.
Both values are read together into one snapshot, kept `ttl` seconds and read again at once
when a presented key matches neither (one read at a time: misses that began before a read
share it). When Secrets Manager cannot be read, the last snapshot's AWSCURRENT keeps working
for `stale_for` seconds more (AWSPREVIOUS never past its grace), a failed read is shared by
the misses waiting for it, and beyond that `KeysUnavailable` says so (a 503, not a 500).
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from paylab.core.secrets import CURRENT, PREVIOUS, SecretReader, parse_json


class KeysUnavailable(Exception):
    """The secret could not be read and no snapshot recent enough is left."""


@dataclass(frozen=True)
class Snapshot:
    """AWSCURRENT and AWSPREVIOUS as read at `read_at` (monotonic seconds)."""

    current: str
    previous: str | None
    previous_until: float  # monotonic: AWSPREVIOUS is refused from then on
    read_at: float
    version_id: str | None


def _same(presented: str, value: str) -> bool:
    return hmac.compare_digest(presented.encode(), value.encode())


class AcceptedKeys:
    """The accepted values of one secret's `field`, for receivers of that key."""

    def __init__(
        self,
        secret_id: Callable[[], str],
        reader: SecretReader,
        *,
        field: str = "password",
        ttl: float = 30.0,
        grace: float = 900.0,
        stale_for: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._secret_id = secret_id
        self._reader = reader
        self._field = field
        self.ttl = ttl
        self.grace = grace
        self.stale_for = stale_for
        self._clock = clock
        self._wall = wall
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._seen_at: dict[str, float] = {}  # version id → when it replaced the one we knew
        self._failed: tuple[float, Exception] | None = None  # the last failed read

    def cached(self) -> Snapshot | None:
        """The snapshot if it is fresh, else None; never calls AWS."""
        snapshot = self._snapshot
        if snapshot is None or self._clock() - snapshot.read_at >= self.ttl:
            return None
        return snapshot

    def accepts(self, presented: str, snapshot: Snapshot) -> bool:
        """Whether `presented` is the current value, or the previous one within its grace."""
        # Both comparisons always run: the time taken does not tell which one matched.
        current = _same(presented, snapshot.current)
        previous = snapshot.previous is not None and _same(presented, snapshot.previous)
        return current or (previous and self._clock() < snapshot.previous_until)

    def check(self, presented: str) -> bool:
        """Against the cached snapshot, then one read after this call began: may call AWS.

        KeysUnavailable when the secret cannot be read and the last snapshot is too old.
        """
        started = self._clock()
        snapshot = self.cached()
        if snapshot is not None and self.accepts(presented, snapshot):
            return True
        try:
            return self.accepts(presented, self.read(newer_than=started))
        except KeysUnavailable:
            raise
        except Exception as exc:  # Secrets Manager down, throttled, the secret malformed
            known = self._snapshot
            if known is None or self._clock() - known.read_at >= self.ttl + self.stale_for:
                raise KeysUnavailable(f"the internal credential cannot be read: {exc!r}") from exc
            return self.accepts(presented, known)

    def read(self, *, newer_than: float = math.inf) -> Snapshot:
        """Read both stages again, unless a read began after `newer_than` (another thread's
        answer, or its failure, is then this one's too)."""
        with self._lock:
            known = self._snapshot
            if known is not None and known.read_at > newer_than:
                return known
            if self._failed is not None and self._failed[0] > newer_than:
                raise self._failed[1]
            started = self._clock()
            try:
                snapshot = self._read(known, started)
            except Exception as exc:
                self._failed = (started, exc)
                raise
            self._snapshot, self._failed = snapshot, None
            return snapshot

    def _read(self, known: Snapshot | None, started: float) -> Snapshot:
        secret_id = self._secret_id()
        current = self._reader.version(secret_id, CURRENT, refresh=True)
        previous = self._reader.version(secret_id, PREVIOUS, refresh=True)
        if current.value is None:
            raise LookupError(f"secret {secret_id} has no {CURRENT} version")
        vid = current.version_id
        if vid is not None and known is not None and known.version_id not in (None, vid):
            # It took over after our last read showed the old one, and no later than now; an
            # idle process reads late, so count from at most a `ttl` after that read.
            self._seen_at[vid] = min(started, known.read_at + self.ttl)
        age = math.inf if current.created is None else max(0.0, self._wall() - current.created)
        if vid in self._seen_at:
            age = min(age, max(0.0, started - self._seen_at[vid]))
        return Snapshot(
            current=self._value(secret_id, current.value),
            previous=None if previous.value is None else self._value(secret_id, previous.value),
            previous_until=started + self.grace - age,
            read_at=started,
            version_id=vid,
        )

    def _value(self, secret_id: str, raw: str) -> str:
        return str(parse_json(secret_id, raw)[self._field])
