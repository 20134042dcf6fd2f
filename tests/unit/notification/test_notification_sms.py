"""The SMS client: errors mapped to domain errors, retries bounded, never a second SMS."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest

from paylab.notification.delivery import ProviderUnavailable, SendRejected
from paylab.notification.settings import NotificationSettings
from paylab.notification.sms import SmsClient

SETTINGS = NotificationSettings(sms_attempts=3, sms_backoff_s=0)
Answer = Callable[[httpx.Request], httpx.Response]


ACCEPT = "accept"


@dataclass
class Provider:
    """A scripted provider: POST answers in order, a log of accepted messages by reference."""

    posts: list[Answer | str] = field(default_factory=list)
    log: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        if request.method == "GET":
            ref = request.url.params["reference"]
            found = [{"id": self.log[ref]}] if ref in self.log else []
            return httpx.Response(200, json={"messages": found})
        answer = self.posts.pop(0) if self.posts else ACCEPT
        if answer == ACCEPT:
            return httpx.Response(201, json={"id": self.accepted(request), "status": "sent"})
        assert callable(answer)
        return answer(request)

    def client(self) -> SmsClient:
        http = httpx.Client(transport=httpx.MockTransport(self), base_url="http://sms.test")
        return SmsClient(http, SETTINGS)

    def accepted(self, request: httpx.Request) -> str:
        body = json.loads(request.content)
        self.log[body["reference"]] = f"sms_{len(self.log) + 1}"
        return self.log[body["reference"]]

    @property
    def post_count(self) -> int:
        return sum(1 for method, _ in self.requests if method == "POST")


def status(code: int, body: object = None) -> Answer:
    return lambda _: httpx.Response(code, json=body if body is not None else {"detail": "x"})


def make(*posts: Answer | str) -> Provider:
    return Provider(posts=list(posts))


def test_a_message_is_posted_with_its_reference_and_sender() -> None:
    provider = make()
    sent: list[dict[str, str]] = []

    def spy(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(201, json={"id": provider.accepted(request)})

    provider.posts = [spy]
    assert provider.client().send("+573001234567", "Hola", "ref-1") == "sms_1"
    assert sent == [
        {"to": "+573001234567", "body": "Hola", "sender": "Paylab", "reference": "ref-1"}
    ]
    assert provider.requests == [("POST", "/v1/messages")]  # a first attempt does not look up


@pytest.mark.parametrize("code", [400, 422])
def test_a_refused_number_is_a_send_rejected_without_retries(code: int) -> None:
    provider = make(status(code, {"detail": "Cannot send an SMS to '+57601': landline"}))
    with pytest.raises(SendRejected, match="landline"):
        provider.client().send("+576011234567", "Hola", "ref-1")
    assert provider.post_count == 1


@pytest.mark.parametrize("code", [401, 403, 404])
def test_our_own_misconfiguration_is_retried_later_not_now(code: int) -> None:
    provider = make(status(code))
    with pytest.raises(ProviderUnavailable, match=str(code)):
        provider.client().send("+573001234567", "Hola", "ref-1")
    assert provider.post_count == 1


def test_a_provider_that_stays_down_is_unavailable_after_bounded_retries() -> None:
    provider = make(status(503), status(502), status(429), status(503))
    with pytest.raises(ProviderUnavailable, match="unavailable"):
        provider.client().send("+573001234567", "Hola", "ref-1")
    assert provider.post_count == SETTINGS.sms_attempts
    assert provider.log == {}


def test_a_transient_error_then_success_sends_one_sms() -> None:
    provider = make(status(503), ACCEPT)
    assert provider.client().send("+573001234567", "Hola", "ref-1") == "sms_1"
    assert provider.requests == [
        ("POST", "/v1/messages"),
        ("GET", "/v1/messages"),
        ("POST", "/v1/messages"),
    ]


def test_a_timeout_after_the_provider_accepted_is_not_sent_twice() -> None:
    provider = make()

    def accepted_then_timed_out(request: httpx.Request) -> httpx.Response:
        provider.accepted(request)
        raise httpx.ReadTimeout("gave up", request=request)

    provider.posts = [accepted_then_timed_out]
    assert provider.client().send("+573001234567", "Hola", "ref-1") == "sms_1"
    assert provider.post_count == 1


def test_a_garbled_answer_to_an_accepted_message_is_not_sent_twice() -> None:
    provider = make()

    def truncated(request: httpx.Request) -> httpx.Response:
        provider.accepted(request)
        return httpx.Response(201, content=b'{"id": "sms_')

    provider.posts = [truncated]
    assert provider.client().send("+573001234567", "Hola", "ref-1") == "sms_1"
    assert provider.post_count == 1


def test_maybe_sent_asks_first_and_sends_only_if_the_provider_has_nothing() -> None:
    provider = make()
    provider.log["ref-1"] = "sms_earlier"
    assert provider.client().send("+573001234567", "Hola", "ref-1", maybe_sent=True) == (
        "sms_earlier"
    )
    assert provider.post_count == 0
    assert provider.client().send("+573001234567", "Hola", "ref-2", maybe_sent=True) == "sms_2"
    assert provider.post_count == 1


def test_connection_errors_are_retried_then_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    http = httpx.Client(transport=httpx.MockTransport(refuse), base_url="http://sms.test")
    with pytest.raises(ProviderUnavailable, match="refused"):
        SmsClient(http, SETTINGS).send("+573001234567", "Hola", "ref-1")
