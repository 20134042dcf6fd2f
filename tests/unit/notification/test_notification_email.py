"""The SES sender: the message it sends, its one-time sender verification, its error mapping."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from paylab.notification.delivery import ProviderUnavailable, SendRejected
from paylab.notification.email import SesEmailSender
from paylab.notification.messages import Draft
from paylab.notification.schemas import Channel
from paylab.notification.settings import NotificationSettings

DRAFT = Draft(
    event_id="evt-1",
    event_type="PaymentNotificationRequested",
    channel=Channel.EMAIL,
    recipient="ana@example.com",
    template="payment_receipt",
    subject="Comprobante de pago 100000135: $30.000,00 COP aprobado",
    body="Hola Ana,\n\nTu pago fue aprobado.",
    merchant_id="merchant-1",
    subject_id="pay-1",
)


class StubSes:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.verified: list[str] = []
        self.sent: list[dict[str, Any]] = []

    def verify_email_identity(self, EmailAddress: str) -> None:
        self.verified.append(EmailAddress)

    def send_email(self, **kwargs: Any) -> dict[str, Any]:
        if self.error:
            raise self.error
        self.sent.append(kwargs)
        return {"MessageId": f"ses-{len(self.sent)}"}


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "SendEmail")


def test_sends_utf8_text_from_the_configured_sender_tagged_with_the_notification() -> None:
    ses = StubSes()
    sender = SesEmailSender(NotificationSettings(sender_email="avisos@paylab.local"), ses)
    assert sender.send(DRAFT, "notif-1", maybe_sent=False) == "ses-1"
    assert sender.send(DRAFT, "notif-2", maybe_sent=False) == "ses-2"
    assert ses.verified == ["avisos@paylab.local"]  # once per process, before the first send
    sent = ses.sent[0]
    assert sent["Source"] == "avisos@paylab.local"
    assert sent["Destination"] == {"ToAddresses": ["ana@example.com"]}
    assert sent["Message"]["Subject"] == {"Data": DRAFT.subject, "Charset": "UTF-8"}
    assert sent["Message"]["Body"]["Text"] == {"Data": DRAFT.body, "Charset": "UTF-8"}
    assert {"Name": "notification_id", "Value": "notif-1"} in sent["Tags"]


def test_verification_can_be_left_to_operations() -> None:
    ses = StubSes()
    SesEmailSender(NotificationSettings(verify_sender=False), ses).send(
        DRAFT, "n", maybe_sent=False
    )
    assert ses.verified == []


@pytest.mark.parametrize("code", ["InvalidParameterValue", "ValidationError"])
def test_a_bad_message_is_rejected_for_good(code: str) -> None:
    sender = SesEmailSender(NotificationSettings(), StubSes(client_error(code)))
    with pytest.raises(SendRejected, match=code):
        sender.send(DRAFT, "n", maybe_sent=False)


@pytest.mark.parametrize(
    "error",
    [
        client_error("Throttling"),
        client_error("MessageRejected"),  # e.g. the sender is not verified: fix, then redrive
        client_error("AccessDenied"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:4566"),
    ],
)
def test_everything_else_is_retried_later(error: Exception) -> None:
    sender = SesEmailSender(NotificationSettings(), StubSes(error))
    with pytest.raises(ProviderUnavailable):
        sender.send(DRAFT, "n", maybe_sent=False)


def test_settings_fail_fast_on_bad_values() -> None:
    with pytest.raises(ValueError, match="sms_url"):
        NotificationSettings(sms_url="ftp://sms")
    with pytest.raises(ValueError, match="sender_email"):
        NotificationSettings(sender_email="not-an-email")
