"""The publisher's batches: a refused message holds back the rest of its aggregate (no AWS)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from paylab.core.publishers import OutboxMessage, Publisher


class FlakySqs(Publisher):
    """SendMessageBatch stand-in: refuses the ids in `refuse`, raises on call `fail_call`."""

    def __init__(self, refuse: frozenset[str] = frozenset(), fail_call: int | None = None) -> None:
        super().__init__(targets={"sqs:audit-ops": "queue-url"})
        self.refuse, self.fail_call = refuse, fail_call
        self.sent: list[list[str]] = []

    def _sqs_batch(self, queue_url: str, batch: Sequence[OutboxMessage]) -> set[str]:
        if len(self.sent) == self.fail_call:
            raise ConnectionError("LocalStack is down")
        self.sent.append([m.id for m in batch])
        return {m.id for m in batch if m.id not in self.refuse}


def messages(*aggregates: str) -> list[OutboxMessage]:
    """One message per aggregate named, ids m00, m01, ... in that order."""
    return [
        OutboxMessage(f"m{i:02d}", agg, "FundsReserved", {}) for i, agg in enumerate(aggregates)
    ]


def test_everything_accepted_goes_in_batches_of_ten_in_order() -> None:
    publisher = FlakySqs()
    batch = messages(*["a", "b"] * 12)
    assert publisher.publish("sqs:audit-ops", batch) == {m.id for m in batch}
    assert [len(call) for call in publisher.sent] == [10, 10, 4]
    assert [i for call in publisher.sent for i in call] == [m.id for m in batch]


def test_a_refused_message_holds_back_the_later_messages_of_its_aggregate() -> None:
    # m01 (b) is refused in the first batch: b's later messages must not overtake it.
    batch = messages(*["a", "b", "c"] * 8)
    publisher = FlakySqs(refuse=frozenset({"m01"}))
    accepted = publisher.publish("sqs:audit-ops", batch)
    later_b = {m.id for m in batch[10:] if m.aggregate_id == "b"}
    sent = {i for call in publisher.sent for i in call}
    assert not later_b & sent
    assert accepted == {m.id for m in batch if m.aggregate_id != "b"} | {"m04", "m07"}
    # Within the first batch the refusal came too late to hold b's m04 and m07 back; the relay
    # marks neither (an earlier row of b is unpublished) and sends them again after m01.


def test_a_failed_call_keeps_what_earlier_batches_had_accepted() -> None:
    batch = messages(*["a", "b"] * 12)
    publisher = FlakySqs(fail_call=1)
    assert publisher.publish("sqs:audit-ops", batch) == {m.id for m in batch[:10]}
    assert len(publisher.sent) == 1


def test_an_unknown_destination_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown destination"):
        FlakySqs().publish("sqs:nowhere", messages("a"))
