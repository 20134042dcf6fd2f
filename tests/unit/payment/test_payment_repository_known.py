"""`PaymentRepository.change` with a state the caller has just read: no second read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from test_payment_domain import created

from paylab.payment import domain
from paylab.payment.domain import EventRecord
from paylab.payment.repository import NewEvents, PaymentRepository


class NoSessions:
    """Fails the test if the repository opens a session (that is, reads the row again)."""

    def __call__(self) -> Any:
        raise AssertionError("the repository read the payment again")


class RecordingStore:
    def __init__(self) -> None:
        self.appended: list[tuple[str, Sequence[EventRecord]]] = []

    def append(self, payment_id: str, events: Sequence[EventRecord]) -> None:
        self.appended.append((payment_id, events))


def test_a_known_state_is_decided_on_without_reading_the_row() -> None:
    state = domain.fold([created()])
    assert state is not None
    repo = PaymentRepository(NoSessions(), RecordingStore())  # type: ignore[arg-type]
    seen: list[int] = []

    def decide(current: domain.PaymentState) -> NewEvents:
        seen.append(current.version)
        return []

    assert repo.change(state.id, decide, known=state) is state
    assert seen == [state.version]


def test_without_a_known_state_the_row_is_read() -> None:
    repo = PaymentRepository(NoSessions(), RecordingStore())  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="read the payment again"):
        repo.change("p-1", lambda _: [])
