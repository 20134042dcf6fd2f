"""SMS through the SMS provider (the simulator on 9004 locally): timeouts, bounded retries.

The provider has no Idempotency-Key, but it keeps our `reference` (the notification id) and
can be asked for it. A retry, and a send that may have gone through before, ask first and
never send twice.
"""

from __future__ import annotations

import httpx
import structlog

from paylab.core.partner_keys import partner_auth
from paylab.core.retries import Transient, json_object, with_retries
from paylab.notification.delivery import ProviderUnavailable, SendRejected
from paylab.notification.messages import Draft
from paylab.notification.settings import NotificationSettings

log = structlog.get_logger(__name__)


def make_http_client(settings: NotificationSettings) -> httpx.Client:
    """The provider's client with explicit connect and read timeouts (and its API key)."""
    timeout = httpx.Timeout(settings.sms_read_timeout_s, connect=settings.sms_connect_timeout_s)
    auth = partner_auth("sms") if settings.sms_api_key_from_secret else None
    return httpx.Client(
        base_url=settings.sms_url,
        timeout=timeout,
        headers={"accept": "application/json"},
        auth=auth,
    )


class SmsClient:
    """`POST /v1/messages`, `GET /v1/messages?reference=`; errors mapped to domain errors."""

    def __init__(self, http: httpx.Client, settings: NotificationSettings) -> None:
        self._http = http
        self._settings = settings

    def send(self, to: str, body: str, reference: str, *, maybe_sent: bool = False) -> str:
        """The provider's message id for `reference`, sending the SMS only if it has none."""

        def once(attempt: int) -> str:
            # A timed-out or garbled answer may hide an accepted message: ask first.
            if maybe_sent or attempt > 1:
                found = self.find(reference)
                if found is not None:
                    return found
            return self._post(to, body, reference)

        return with_retries(
            once,
            attempts=self._settings.sms_attempts,
            backoff_s=self._settings.sms_backoff_s,
            unavailable=lambda cause: _unavailable(reference, cause),
        )

    def find(self, reference: str) -> str | None:
        """The id of the message the provider has with `reference`, if any."""
        response = self._http.get("/v1/messages", params={"reference": reference, "limit": 1})
        parsed = json_object(response, "the SMS provider")
        if response.status_code >= 400:
            raise ProviderUnavailable(f"the SMS provider answered {response.status_code}")
        messages = parsed.get("messages")
        if not isinstance(messages, list):
            raise Transient("the SMS provider's message list is unreadable")
        return str(messages[0]["id"]) if messages else None

    def _post(self, to: str, body: str, reference: str) -> str:
        payload = {"to": to, "body": body, "sender": self._settings.sms_sender}
        response = self._http.post("/v1/messages", json={**payload, "reference": reference})
        parsed = json_object(response, "the SMS provider")
        if response.status_code in (400, 422):
            detail = parsed.get("detail") or f"HTTP {response.status_code}"
            raise SendRejected(f"the SMS provider refused the message: {detail}")
        if response.status_code >= 400:  # 401, 403, 404...: our configuration, not the message
            raise ProviderUnavailable(f"the SMS provider answered {response.status_code}")
        if not isinstance(parsed.get("id"), str):
            raise Transient("the SMS provider accepted the message without an id")
        return str(parsed["id"])


def _unavailable(reference: str, cause: BaseException) -> ProviderUnavailable:
    log.warning("sms provider unavailable", reference=reference, error=str(cause))
    return ProviderUnavailable(f"the SMS provider is unavailable: {cause}")


class SmsSender:
    """The SMS channel: a draft's body to its recipient's phone."""

    def __init__(self, sms: SmsClient) -> None:
        self._sms = sms

    def send(self, draft: Draft, reference: str, *, maybe_sent: bool) -> str:
        """The provider's message id."""
        return self._sms.send(draft.recipient, draft.body, reference, maybe_sent=maybe_sent)
