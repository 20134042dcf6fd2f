"""Sending each message once per (event id, channel), whatever the redeliveries.

Sending is a side effect outside our database, so it cannot share a transaction with the
row that records it. The order chosen, and why:

1. record the intent: insert the row as `sending` and commit (a no-op if it exists);
2. lock that row (SELECT ... FOR UPDATE) in a second transaction; if it is already `sent`
   or `failed`, stop: a redelivery does nothing;
3. call the provider while holding the lock, so two deliveries of one event (an SQS
   visibility timeout running out mid-send, SNS and SQS at once) never both send;
4. mark the row `sent` (with the provider's id) or `failed` (the provider refused the
   message for good) and commit; a transient failure is counted on the row, committed, and
   re-raised so that the message is redelivered later.

The crash window is between the provider's acceptance and step 4's commit: the row stays
`sending` and the redelivery sends again. A row found already `sending` therefore tells
the sender it may have been sent (`maybe_sent`): the SMS provider is first asked for a
message with our reference (the row id) and nothing is re-sent if it has one. SES offers
neither an idempotency key nor a lookup, so for email that narrow window stays at least
once. Recording nothing before sending would make every crash a silent resend; sending
before recording would make a crash lose the record of a message that went out.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from enum import StrEnum
from typing import Protocol

import structlog

from paylab.notification.messages import Draft
from paylab.notification.schemas import Channel, Status

log = structlog.get_logger(__name__)


class SendRejected(Exception):
    """The provider refused this message for good (e.g. not a mobile number): do not retry."""


class ProviderUnavailable(Exception):
    """The provider did not take the message now (down, timing out, misconfigured): retry."""


class DeliveryDeferred(Exception):
    """Some message of an event could not be sent yet; raising it gets the event redelivered."""


class Outcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    ALREADY_DONE = "already_done"


class Claim(Protocol):
    """A notification row, locked for the duration of one send."""

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> Status: ...

    def sent(self, provider_message_id: str) -> None:
        """The provider accepted the message."""

    def failed(self, error: str) -> None:
        """The provider refused the message for good."""

    def retry_later(self, error: str) -> None:
        """The provider could not take the message now."""


class Journal(Protocol):
    """Where notification rows live (Postgres in the service, a dict in unit tests)."""

    def reserve(self, draft: Draft) -> bool:
        """Insert `draft` as `sending` unless its (event_id, channel) exists; True if new."""

    def claim(self, event_id: str, channel: Channel) -> AbstractContextManager[Claim]:
        """Lock the row for one send; changes commit when the block ends without error."""


class Sender(Protocol):
    """One channel's provider."""

    def send(self, draft: Draft, reference: str, *, maybe_sent: bool) -> str:
        """Send (unless `maybe_sent` and the provider already has `reference`); its id."""


def deliver(journal: Journal, sender: Sender, draft: Draft) -> Outcome:
    """Send `draft` unless its (event id, channel) was already sent or refused."""
    fresh = journal.reserve(draft)
    deferred: ProviderUnavailable | None = None
    with journal.claim(draft.event_id, draft.channel) as claim:
        if claim.status is not Status.SENDING:
            return Outcome.ALREADY_DONE
        try:
            provider_id = sender.send(draft, claim.id, maybe_sent=not fresh)
        except SendRejected as exc:
            claim.failed(str(exc))
            log.warning("notification refused", event_id=draft.event_id, channel=draft.channel)
            return Outcome.FAILED
        except ProviderUnavailable as exc:
            claim.retry_later(str(exc))
            deferred = exc
        else:
            claim.sent(provider_id)
            return Outcome.SENT
    raise DeliveryDeferred(f"{draft.channel} for event {draft.event_id}: {deferred}") from deferred
