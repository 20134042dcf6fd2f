"""The relay's lanes: parallel sends never split or reorder an aggregate (pure, no I/O)."""

from __future__ import annotations

import random
from collections.abc import Sequence

from paylab.core.outbox_relay import OutboxRelay, channel
from paylab.core.publishers import OutboxMessage


class Recorder:
    """A Publisher stand-in that accepts everything and remembers each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def publish(self, destination: str, messages: Sequence[OutboxMessage]) -> set[str]:
        self.calls.append((destination, [m.id for m in messages]))
        return {m.id for m in messages}


def relay(lanes: int = 4) -> OutboxRelay:
    return OutboxRelay(None, "auth", Recorder(), table="outbox_t", lanes=lanes)  # type: ignore[arg-type]


def messages(count: int, aggregates: int, seed: int = 7) -> list[OutboxMessage]:
    rng = random.Random(seed)
    return [
        OutboxMessage(f"m{i:04d}", f"agg-{rng.randrange(aggregates)}", "PaymentCreated", {})
        for i in range(count)
    ]


def test_each_aggregate_stays_in_one_lane_in_order() -> None:
    batch = messages(95, aggregates=13)
    lanes = relay()._lanes(batch)
    assert len(lanes) == 4
    assert sorted(m.id for lane in lanes for m in lane) == [m.id for m in batch]
    for lane in lanes:
        for aggregate in {m.aggregate_id for m in lane}:
            ids = [m.id for m in lane if m.aggregate_id == aggregate]
            assert ids == sorted(ids)  # each aggregate in claim (seq) order
    owners = {m.aggregate_id: i for i, lane in enumerate(lanes) for m in lane}
    assert all(m.aggregate_id in owners for m in batch)
    for i, lane in enumerate(lanes):
        assert all(owners[m.aggregate_id] == i for m in lane)


def test_one_batch_or_one_lane_is_never_split() -> None:
    assert len(relay()._lanes(messages(10, aggregates=10))) == 1
    assert len(relay(lanes=1)._lanes(messages(300, aggregates=50))) == 1
    assert len(relay()._lanes(messages(300, aggregates=1))) == 1  # one aggregate, one lane


def test_a_table_of_its_own_has_a_channel_of_its_own() -> None:
    assert channel("wallet") == "outbox_wallet"
    assert relay().channel == "outbox_auth_outbox_t"
