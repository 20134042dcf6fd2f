"""Exactly once per (event id, channel): redeliveries, provider outages, crashes mid-send."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from paylab.notification.delivery import (
    DeliveryDeferred,
    Outcome,
    ProviderUnavailable,
    SendRejected,
    deliver,
)
from paylab.notification.messages import Draft
from paylab.notification.schemas import Channel, Status


@dataclass
class Row:
    id: str
    status: Status = Status.SENDING
    provider_message_id: str | None = None
    error: str | None = None
    attempts: int = 0


class FakeClaim:
    def __init__(self, row: Row) -> None:
        self.row = row

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def status(self) -> Status:
        return self.row.status

    def sent(self, provider_message_id: str) -> None:
        self.row.status, self.row.provider_message_id = Status.SENT, provider_message_id
        self.row.attempts += 1

    def failed(self, error: str) -> None:
        self.row.status, self.row.error = Status.FAILED, error
        self.row.attempts += 1

    def retry_later(self, error: str) -> None:
        self.row.error = error
        self.row.attempts += 1


@dataclass
class FakeJournal:
    """Rows keyed like the UNIQUE constraint; a claim's changes are lost if its block raises."""

    rows: dict[tuple[str, Channel], Row] = field(default_factory=dict)

    def reserve(self, draft: Draft) -> bool:
        key = (draft.event_id, draft.channel)
        if key in self.rows:
            return False
        self.rows[key] = Row(str(uuid.uuid4()))
        return True

    @contextmanager
    def claim(self, event_id: str, channel: Channel) -> Iterator[FakeClaim]:
        committed = self.rows[(event_id, channel)]
        working = Row(**vars(committed))
        yield FakeClaim(working)  # an exception here skips the "commit" below
        self.rows[(event_id, channel)] = working


@dataclass
class FakeProvider:
    """A provider that keeps messages by reference (like the SMS provider's log)."""

    messages: dict[str, str] = field(default_factory=dict)
    sends: int = 0
    failures: list[Exception] = field(default_factory=list)
    crash_after_accepting: bool = False
    calls: list[bool] = field(default_factory=list)

    def send(self, draft: Draft, reference: str, *, maybe_sent: bool) -> str:
        self.calls.append(maybe_sent)
        if maybe_sent and reference in self.messages:
            return self.messages[reference]
        if self.failures:
            raise self.failures.pop(0)
        self.sends += 1
        self.messages[reference] = f"msg-{self.sends}"
        if self.crash_after_accepting:
            self.crash_after_accepting = False
            raise SystemExit("the worker died after the provider accepted")
        return self.messages[reference]


def draft(channel: Channel = Channel.SMS, event_id: str = "evt-1") -> Draft:
    return Draft(
        event_id=event_id,
        event_type="PaymentNotificationRequested",
        channel=channel,
        recipient="+573001234567",
        template="payment_receipt",
        subject=None,
        body="Paylab: tu pago fue aprobado.",
        merchant_id="merchant-1",
        subject_id="pay-1",
    )


def test_a_redelivered_event_sends_nothing_again() -> None:
    journal, provider = FakeJournal(), FakeProvider()
    assert deliver(journal, provider, draft()) is Outcome.SENT
    assert deliver(journal, provider, draft()) is Outcome.ALREADY_DONE
    assert deliver(journal, provider, draft()) is Outcome.ALREADY_DONE
    assert provider.sends == 1
    row = journal.rows[("evt-1", Channel.SMS)]
    assert (row.status, row.provider_message_id, row.attempts) == (Status.SENT, "msg-1", 1)


def test_each_channel_and_each_event_is_sent_once() -> None:
    journal, provider = FakeJournal(), FakeProvider()
    for d in (draft(Channel.SMS), draft(Channel.EMAIL), draft(Channel.SMS, event_id="evt-2")):
        assert deliver(journal, provider, d) is Outcome.SENT
    assert provider.sends == 3


def test_a_provider_outage_defers_and_the_redelivery_sends_exactly_once() -> None:
    journal = FakeJournal()
    provider = FakeProvider(failures=[ProviderUnavailable("503"), ProviderUnavailable("503")])
    for _ in range(2):
        with pytest.raises(DeliveryDeferred, match="evt-1"):
            deliver(journal, provider, draft())
    row = journal.rows[("evt-1", Channel.SMS)]
    assert (row.status, row.attempts, row.error) == (Status.SENDING, 2, "503")
    assert deliver(journal, provider, draft()) is Outcome.SENT
    assert deliver(journal, provider, draft()) is Outcome.ALREADY_DONE
    assert provider.sends == 1
    # Only the very first call could be sure nothing had been sent before.
    assert provider.calls == [False, True, True]


def test_a_refused_message_is_failed_for_good_and_never_retried() -> None:
    journal = FakeJournal()
    provider = FakeProvider(failures=[SendRejected("not a mobile number")])
    assert deliver(journal, provider, draft()) is Outcome.FAILED
    assert deliver(journal, provider, draft()) is Outcome.ALREADY_DONE
    row = journal.rows[("evt-1", Channel.SMS)]
    assert (row.status, row.error) == (Status.FAILED, "not a mobile number")
    assert provider.sends == 0


def test_a_crash_after_the_provider_accepted_does_not_send_twice() -> None:
    journal, provider = FakeJournal(), FakeProvider(crash_after_accepting=True)
    with pytest.raises(SystemExit):
        deliver(journal, provider, draft())
    # The intent survived the crash; the `sent` mark did not.
    assert journal.rows[("evt-1", Channel.SMS)].status is Status.SENDING
    assert deliver(journal, provider, draft()) is Outcome.SENT
    assert provider.sends == 1
    assert provider.calls == [False, True]
    assert journal.rows[("evt-1", Channel.SMS)].provider_message_id == "msg-1"
