"""Exactly once against the real SES (LocalStack) and SMS simulator, whatever the redeliveries."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from paylab.notification import consumers
from paylab.notification.delivery import DeliveryDeferred
from paylab.notification.settings import get_notification_settings

from .conftest import (
    SmsFaults,
    SmsJournal,
    emails_to,
    mobile,
    payment_event,
    sms_messages_to,
    uid,
)


def rows(engine: Engine, event_id: str) -> dict[str, dict[str, object]]:
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT channel, status, attempts, provider_message_id, error "
                "FROM notifications WHERE event_id = :event_id"
            ),
            {"event_id": event_id},
        ).mappings()
        return {r["channel"]: dict(r) for r in found}


def test_an_event_handled_twice_sends_one_email_and_one_sms(
    engine: Engine, sms_journal: SmsJournal
) -> None:
    email, phone = f"{uid('ana')}@example.com", mobile()
    event = payment_event(uid("merchant"), email=email, phone=phone)

    consumers.handle(event)
    consumers.handle(event)  # a redelivery: SQS at least once, or SNS and SQS both

    [sent_email] = emails_to(email)
    assert sent_email["Subject"].startswith(f"Comprobante de pago {event.data['ref_payco']}")
    assert "$30.000,00 COP" in sent_email["Body"]["text_part"]
    assert len(sms_journal.posts_to(phone)) == 1
    [sms] = sms_messages_to(phone)
    assert "$30.000,00 COP" in sms["body"]
    recorded = rows(engine, event.id)
    assert {c: r["status"] for c, r in recorded.items()} == {"email": "sent", "sms": "sent"}
    assert recorded["email"]["provider_message_id"] == sent_email["Id"]
    assert recorded["sms"]["provider_message_id"] == sms["id"]


def test_sms_provider_down_then_back_sends_exactly_one_sms(
    engine: Engine, sms_journal: SmsJournal, sms_faults: SmsFaults
) -> None:
    email, phone = f"{uid('ana')}@example.com", mobile()
    event = payment_event(uid("merchant"), email=email, phone=phone, status="rejected")
    rule = sms_faults.fail_posts_to(phone, 503)

    with pytest.raises(DeliveryDeferred, match="sms"):
        consumers.handle(event)  # raising is what gets the message redelivered

    # The failure email did not wait for the SMS provider; the SMS is still to be sent.
    [sent_email] = emails_to(email)
    assert "no fue aprobado" in sent_email["Subject"]
    recorded = rows(engine, event.id)
    assert recorded["email"]["status"] == "sent"
    assert (recorded["sms"]["status"], recorded["sms"]["attempts"]) == ("sending", 1)
    assert "503" in str(recorded["sms"]["error"])
    retries = get_notification_settings().sms_attempts
    assert len(sms_journal.posts_to(phone, status=503)) == retries  # bounded retries
    assert sms_messages_to(phone) == []

    with pytest.raises(DeliveryDeferred):
        consumers.handle(event)  # still down: redelivered again, still nothing sent
    assert rows(engine, event.id)["sms"]["attempts"] == 2

    sms_faults.clear(rule)
    consumers.handle(event)  # the redelivery after the provider came back
    consumers.handle(event)  # and a late duplicate of it

    assert len(sms_journal.posts_to(phone, status=201)) == 1
    [sms] = sms_messages_to(phone)
    assert "no fue aprobado" in sms["body"]
    assert len(emails_to(email)) == 1
    recorded = rows(engine, event.id)
    assert recorded["sms"]["status"] == "sent"
    assert recorded["sms"]["provider_message_id"] == sms["id"]


def test_a_number_the_provider_refuses_is_failed_once_and_not_retried(
    engine: Engine, sms_journal: SmsJournal
) -> None:
    landline = "+576011234567"  # +57 601...: a Bogotá landline, not a mobile
    event = payment_event(uid("merchant"), email=None, phone=landline)

    consumers.handle(event)  # no raise: retrying cannot make a landline a mobile
    consumers.handle(event)

    recorded = rows(engine, event.id)
    assert set(recorded) == {"sms"}
    assert recorded["sms"]["status"] == "failed"
    assert "mobile" in str(recorded["sms"]["error"])
    assert len(sms_journal.posts_to(landline)) == 1


def test_events_it_does_not_act_on_leave_no_trace(engine: Engine) -> None:
    event = payment_event(uid("merchant"), email="x@example.com", phone=mobile())
    event.type = "PaymentCreated"
    consumers.handle(event)
    assert rows(engine, event.id) == {}
