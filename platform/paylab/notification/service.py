"""The notification service's use cases: send an event's messages once; list what was sent."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import structlog
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.db import service_engine, session_factory, unit_of_work
from paylab.core.events import Envelope
from paylab.notification import journal
from paylab.notification import outcomes as outcomes_store
from paylab.notification.delivery import DeliveryDeferred, Journal, Outcome, Sender, deliver
from paylab.notification.email import SesEmailSender
from paylab.notification.messages import PAYMENT_NOTIFICATION, REFUNDED, compose, parse
from paylab.notification.models import Notification
from paylab.notification.schemas import (
    Channel,
    DayFigures,
    NotificationList,
    NotificationOut,
    PaymentNotice,
)
from paylab.notification.settings import NotificationSettings
from paylab.notification.sms import SmsClient, SmsSender, make_http_client

log = structlog.get_logger(__name__)


class NotificationService:
    """Email and SMS senders over the `notification` schema."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        senders: Mapping[Channel, Sender],
        settings: NotificationSettings,
        store: Journal | None = None,
    ) -> None:
        self._sessions = sessions
        self._senders = senders
        self._settings = settings
        self._journal = store or journal.PgJournal(sessions, settings.lock_timeout_s)

    def notify(self, envelope: Envelope) -> dict[Channel, Outcome]:
        """Send every message `envelope` asks for, each once per channel.

        Every channel is tried even when one cannot send now (an SMS outage must not hold
        the receipt email back); then the first deferral is raised so that the event comes
        back, and only what is still `sending` goes out on the redelivery. A payment's
        outcome is also kept (idempotently) for the merchant's daily summary.
        """
        if envelope.type == PAYMENT_NOTIFICATION:
            notice = parse(PaymentNotice, envelope)
            if not (notice.event_type == REFUNDED and notice.status != "reversed"):
                # A partial refund leaves the payment's outcome (and its day) as they were.
                with unit_of_work(self._sessions) as session:
                    outcomes_store.record(session, notice, envelope.occurred_at, envelope.id)
        drafts = compose(
            envelope, figures=self._day_figures, country_code=self._settings.default_country_code
        )
        outcomes: dict[Channel, Outcome] = {}
        deferred: list[DeliveryDeferred] = []
        for draft in drafts:
            try:
                outcomes[draft.channel] = deliver(
                    self._journal, self._senders[draft.channel], draft
                )
            except DeliveryDeferred as exc:
                deferred.append(exc)
        if not drafts:
            return outcomes
        log.info(
            "event notified",
            event_id=envelope.id,
            event_type=envelope.type,
            outcomes={k.value: v.value for k, v in outcomes.items()},
            deferred=len(deferred),
        )
        if deferred:
            raise deferred[0]
        return outcomes

    def _day_figures(self, merchant_id: str, day: date) -> DayFigures:
        with self._sessions() as session:
            return outcomes_store.day_figures(session, merchant_id, day)

    def list_notifications(
        self, merchant_id: str, filters: journal.Filters, *, limit: int, cursor: int | None
    ) -> NotificationList:
        """The merchant's notifications, newest first, `limit` at a time."""
        with self._sessions() as session:
            rows, next_seq = journal.page(session, merchant_id, filters, limit=limit, before=cursor)
            items = [_out(row) for row in rows]
        return NotificationList(items=items, next_cursor=str(next_seq) if next_seq else None)


def _out(row: Notification) -> NotificationOut:
    return NotificationOut.model_validate(row, from_attributes=True)


def build(settings: NotificationSettings, engine: Engine | None = None) -> NotificationService:
    """The service on its own role and schema, with SES and the SMS provider."""
    engine = engine or service_engine("notification", pool_size=5)
    senders: dict[Channel, Sender] = {
        Channel.EMAIL: SesEmailSender(settings),
        Channel.SMS: SmsSender(SmsClient(make_http_client(settings), settings)),
    }
    return NotificationService(session_factory(engine), senders, settings)
