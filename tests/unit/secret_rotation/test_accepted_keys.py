"""What a receiver of the internal credential accepts, on fake clocks: AWSCURRENT, and
AWSPREVIOUS for the grace from the later of the version's creation and the moment this
process saw it replace another; everything read again every `ttl` seconds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from paylab.core.accepted_keys import AcceptedKeys, KeysUnavailable
from paylab.core.secrets import SecretReader
from paylab.lambdas import rotate_base, rotate_shared_key

from .fakes import FakeSecretsManager, RotatingSecret

GRACE, TTL = 900.0, 30.0
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class Clocks:
    """A monotonic clock and a wall clock that move together when the test says so."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall_at = NOW

    def monotonic(self) -> float:
        return self.mono

    def wall(self) -> float:
        return self.wall_at.timestamp()

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall_at += timedelta(seconds=seconds)


def keys(secret: RotatingSecret | FakeSecretsManager, clocks: Clocks) -> AcceptedKeys:
    reader = SecretReader(ttl_seconds=TTL, sm=secret)
    return AcceptedKeys(
        lambda: "internal",
        reader,
        ttl=TTL,
        grace=GRACE,
        clock=clocks.monotonic,
        wall=clocks.wall,
    )


def test_the_previous_key_stops_at_the_end_of_its_grace_even_from_the_cache() -> None:
    clocks = Clocks()
    secret = RotatingSecret("first", created=NOW - timedelta(days=30))
    accepted = keys(secret, clocks)
    assert accepted.check("first")
    secret.rotate("second", created=NOW)
    assert accepted.check("second") and accepted.check("first")
    for _ in range(int(GRACE // TTL) - 1):  # the cache is read again every 30 s meanwhile
        clocks.advance(TTL)
        assert accepted.check("first")  # up to 870 s after the rotation
    clocks.advance(15)
    read = accepted.read()  # 885 s after it
    clocks.advance(14)
    assert accepted.cached() is read and accepted.accepts("first", read)  # 899 s
    clocks.advance(2)
    assert accepted.cached() is read and not accepted.accepts("first", read)  # 901 s
    assert not accepted.check("first") and accepted.check("second")


def test_a_rotation_finished_long_after_its_version_was_created_gets_the_whole_grace() -> None:
    clocks = Clocks()
    secret = RotatingSecret("first", created=NOW - timedelta(days=30))
    accepted = keys(secret, clocks)
    assert accepted.check("first")
    # createSecret ran an hour ago, finishSecret only now (a resumed rotation).
    secret.rotate("second", created=NOW - timedelta(hours=1))
    assert accepted.check("second")
    clocks.advance(GRACE - 60)
    assert accepted.check("first")  # counted from when this process saw the change
    clocks.advance(120)
    assert not accepted.check("first")


def test_a_process_that_starts_after_the_rotation_counts_from_the_creation() -> None:
    clocks = Clocks()
    secret = RotatingSecret("first", created=NOW - timedelta(days=30))
    secret.rotate("second", created=NOW - timedelta(seconds=GRACE - 10))
    accepted = keys(secret, clocks)
    assert accepted.check("first")
    clocks.advance(20)
    assert not accepted.check("first") and accepted.check("second")


def test_without_a_creation_date_the_previous_key_counts_only_from_a_change_seen() -> None:
    clocks = Clocks()
    secret = RotatingSecret("first")
    secret.versions = [("first", None), ("second", None)]
    accepted = keys(secret, clocks)
    assert not accepted.check("first")  # nothing says when "second" took over: no grace
    secret.versions.append(("third", None))
    assert accepted.check("third") and accepted.check("second")  # seen now: the whole grace


def test_a_fresh_secret_without_a_previous_version_is_checked_from_the_cache() -> None:
    clocks = Clocks()
    secret = RotatingSecret("first", created=NOW)
    accepted = keys(secret, clocks)
    assert accepted.check("first")
    calls = secret.calls
    snapshot = accepted.cached()
    assert snapshot is not None and snapshot.previous is None
    assert accepted.accepts("first", snapshot) and secret.calls == calls


def test_wrong_keys_read_again_but_never_match() -> None:
    clocks = Clocks()
    secret = RotatingSecret("first")
    accepted = keys(secret, clocks)
    assert accepted.check("first")
    assert not accepted.check("firs") and not accepted.check("") and not accepted.check("first ")


def test_the_shared_key_rotation_makes_a_new_full_length_key_current() -> None:
    sm = FakeSecretsManager()
    old = rotate_base.random_token(48)
    name = sm.create("paylab/internal-service-credential", json.dumps({"password": old}))
    token = sm.start_rotation(name)
    for step in rotate_base.STEPS:
        event = {"SecretId": name, "ClientRequestToken": token, "Step": step}
        rotate_base.run(event, rotate_shared_key.ROTATION, sm)
    new = json.loads(sm.value_at(name, "AWSCURRENT") or "{}")["password"]
    assert len(new) == 48 and new.isalnum() and new != old
    assert json.loads(sm.value_at(name, "AWSPREVIOUS") or "{}")["password"] == old


class Failing(RotatingSecret):
    """A secret whose reads fail while `down` is set."""

    down = False

    def get_secret_value(self, SecretId: str, VersionStage: str) -> dict[str, Any]:
        if self.down:
            self.calls += 1
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:4566")
        return super().get_secret_value(SecretId, VersionStage)


def test_while_the_secret_cannot_be_read_the_last_current_key_works_for_a_while() -> None:
    clocks = Clocks()
    secret = Failing("first", created=NOW - timedelta(days=30))
    accepted = keys(secret, clocks)
    assert accepted.check("first")
    secret.down = True
    clocks.advance(TTL + 1)  # the snapshot is stale: a read is due, and fails
    assert accepted.check("first") and not accepted.check("wrong")
    clocks.advance(accepted.stale_for)
    with pytest.raises(KeysUnavailable):
        accepted.check("first")
    secret.down = False
    assert accepted.check("first")


def test_misses_waiting_for_a_failed_read_share_its_failure() -> None:
    clocks = Clocks()
    secret = Failing("first")
    accepted = keys(secret, clocks)
    secret.down = True
    with pytest.raises(EndpointConnectionError):
        accepted.read(newer_than=clocks.monotonic() - 1)
    calls = secret.calls
    # A miss that began before that read reuses its failure instead of reading again...
    with pytest.raises(EndpointConnectionError):
        accepted.read(newer_than=clocks.monotonic() - 1)
    assert secret.calls == calls
    # ...and so does a check: nothing known yet, so the secret is unavailable.
    with pytest.raises(KeysUnavailable):
        accepted.check("first")
    assert secret.calls == calls + 1  # the check began after the failure: it read again


def test_a_creation_date_in_the_future_gives_no_more_than_the_grace() -> None:
    clocks = Clocks()
    secret = RotatingSecret("first", created=NOW - timedelta(days=30))
    secret.rotate("second", created=NOW + timedelta(hours=1))  # its clock runs ahead
    accepted = keys(secret, clocks)
    snapshot = accepted.read()
    assert snapshot.previous_until <= clocks.monotonic() + GRACE


def test_an_idle_process_counts_the_grace_from_at_most_a_ttl_after_its_last_read() -> None:
    clocks = Clocks()
    secret = RotatingSecret("first", created=NOW - timedelta(days=30))
    accepted = keys(secret, clocks)
    assert accepted.check("first")
    clocks.advance(3600)  # an hour without a request; the rotation happened meanwhile
    secret.rotate("second", created=NOW + timedelta(seconds=600))  # 50 minutes ago
    # The first request after it presents the old key: refused, its grace is long over.
    assert not accepted.check("first") and accepted.check("second")
