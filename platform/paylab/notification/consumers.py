"""The consumer entrypoint: the SQS worker and the SNS push route both call `handle`."""

from __future__ import annotations

from paylab.core.events import Envelope
from paylab.core.lazy import Lazy
from paylab.notification.service import NotificationService, build
from paylab.notification.settings import get_notification_settings

# Built on the first event, so importing this module (and the app) connects to nothing.
service: Lazy[NotificationService] = Lazy(lambda: build(get_notification_settings()))


def handle(envelope: Envelope) -> None:
    """Send the event's messages once per channel; raise to have the event redelivered.

    Raises DeliveryDeferred when a provider cannot take a message now (retry later), and
    InvalidEvent when a handled event type carries data we cannot use (park it). Event types
    this service does not act on are ignored and leave no trace.
    """
    service().notify(envelope)
