"""The SNS push router (paylab.core.sns_push) against LocalStack, on a throwaway topic.

Also pins down what LocalStack 2026.3 does with an HTTP subscription whose endpoint is down
when it is created (what `paylab up` works around with confirm_pending_subscriptions).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI

from paylab.core.events import Envelope
from paylab.core.settings import get_settings
from paylab.core.sns_push import sns_router
from paylab.infra.deploy import confirm_pending_subscriptions

from ..http_sink import HttpSink
from ..messages import allow_service_to_send, receive
from ..resources import AwsClients, Queue
from ..waiting import wait_until
from .servers import serve

PORT, LATE_PORT = 8110, 8111


def _event(event_id: str) -> Envelope:
    return Envelope(
        id=event_id,
        type="PaymentCreated",
        source="payment",
        subject_id="pay-1",
        correlation_id=event_id,
        data={"amount": "30000.00"},
    )


def _app(topic: str, handled: list[Envelope]) -> FastAPI:
    def handler(envelope: Envelope) -> None:
        if envelope.id.startswith("fail"):
            raise RuntimeError("database down")
        handled.append(envelope)

    app = FastAPI()
    app.include_router(sns_router(handler, topics=lambda: {topic}))
    app.include_router(sns_router(handler, path="/other", topics=lambda: set()))
    return app


def _pending(aws: AwsClients, arn: str) -> bool:
    attributes = aws.sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    return bool(attributes["PendingConfirmation"] == "true")


def _signed_copy(aws: AwsClients, topic: str, sink: HttpSink, message: str) -> dict[str, Any]:
    """A genuine signed notification of `topic`, as the sink subscription received it."""
    aws.sns.publish(TopicArn=topic, Message=message)
    while True:
        request = sink.next_request()
        if request.headers["x-amz-sns-message-type"] == "Notification":
            body: dict[str, Any] = request.json()
            if body["Message"] == message:
                return body


def test_router_confirms_then_handles_signed_events_and_refuses_forgeries(
    aws: AwsClients, sns_create_topic: Callable[[], str], http_sink: HttpSink
) -> None:
    topic = sns_create_topic()
    handled: list[Envelope] = []
    with serve(_app(topic, handled), PORT) as url:
        arn = aws.sns.subscribe(
            TopicArn=topic,
            Protocol="http",
            Endpoint=f"{url}/internal/sns",
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        wait_until(lambda: not _pending(aws, arn), timeout=30, description="the confirmation")

        event = _event("evt-1")
        aws.sns.publish(TopicArn=topic, Message=event.to_json())
        wait_until(lambda: handled, timeout=30, description="the pushed event")
        assert handled == [event]

        # A second subscriber (the sink) keeps genuine signed copies to replay and tamper.
        sink_arn = aws.sns.subscribe(
            TopicArn=topic, Protocol="http", Endpoint=http_sink.url, ReturnSubscriptionArn=True
        )["SubscriptionArn"]
        confirmation = http_sink.next_request().json()
        httpx.get(confirmation["SubscribeURL"], timeout=5).raise_for_status()
        wait_until(lambda: not _pending(aws, sink_arn), timeout=30, description="sink confirmed")

        genuine = _signed_copy(aws, topic, http_sink, _event("evt-2").to_json())
        wait_until(lambda: len(handled) == 2, timeout=30, description="evt-2")

        def post(body: dict[str, Any], path: str = "/internal/sns") -> httpx.Response:
            return httpx.post(f"{url}{path}", content=json.dumps(body), timeout=10)

        tampered = {**genuine, "Message": _event("evt-forged").to_json()}
        assert post(tampered).status_code == 403
        assert post({**genuine, "Signature": "AAAA"}).status_code == 403
        assert (
            post({**genuine, "SigningCertURL": "https://evil.example/cert.pem"}).status_code == 403
        )
        assert post({**genuine, "SignatureVersion": "3"}).status_code == 403
        assert post(genuine, path="/other").status_code == 403  # not a topic it consumes
        assert httpx.post(f"{url}/internal/sns", content=b"{", timeout=5).status_code == 400
        assert post(genuine).status_code == 204  # a replay is fine: handlers are idempotent

        not_event = _signed_copy(aws, topic, http_sink, "hello")
        assert post(not_event).status_code == 422
        failing = _signed_copy(aws, topic, http_sink, _event("fail-1").to_json())
        response = post(failing)
        assert response.status_code == 503  # the handler failed: SNS should retry
        assert response.headers["content-type"] == "application/problem+json"
    assert [e.id for e in handled] == ["evt-1", "evt-2", "evt-2"]


class _OneTopicStack:
    """list_stack_resources' paginator for a stack whose only topic is `topic`."""

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def get_paginator(self, operation: str) -> _OneTopicStack:
        assert operation == "list_stack_resources"
        return self

    def paginate(self, StackName: str) -> list[dict[str, Any]]:
        resources = [{"ResourceType": "AWS::SNS::Topic", "PhysicalResourceId": self.topic}]
        return [{"StackResourceSummaries": resources}]


def test_localstack_never_resends_a_missed_confirmation_so_up_confirms_it(
    aws: AwsClients,
    sns_create_topic: Callable[[], str],
    sqs_create_queue: Callable[..., Queue],
) -> None:
    topic = sns_create_topic()
    endpoint = f"http://127.0.0.1:{LATE_PORT}/internal/sns"
    # The service is not up yet: the one confirmation LocalStack sends goes nowhere.
    arn = aws.sns.subscribe(
        TopicArn=topic, Protocol="http", Endpoint=endpoint, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    assert _pending(aws, arn)

    control = sqs_create_queue()
    allow_service_to_send(aws.sqs, control.url, control.arn, "sns.amazonaws.com", topic)
    aws.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=control.arn)
    handled: list[Envelope] = []
    with serve(_app(topic, handled), LATE_PORT):
        # Subscribing again is idempotent and sends no new confirmation; nothing is delivered
        # to a pending subscription (the SQS subscriber, published to alongside, gets it).
        again = aws.sns.subscribe(
            TopicArn=topic, Protocol="http", Endpoint=endpoint, ReturnSubscriptionArn=True
        )["SubscriptionArn"]
        assert again == arn
        aws.sns.publish(TopicArn=topic, Message=_event("evt-lost").to_json())
        assert len(receive(aws.sqs, control.url, 1)) == 1
        assert _pending(aws, arn) and handled == []

        confirmed = confirm_pending_subscriptions(get_settings(), cfn=_OneTopicStack(topic))
        assert confirmed == [arn] and not _pending(aws, arn)
        aws.sns.publish(TopicArn=topic, Message=_event("evt-2").to_json())
        wait_until(lambda: handled, timeout=30, description="delivery once confirmed")
    assert [e.id for e in handled] == ["evt-2"]
    # Nothing left to confirm: the step is idempotent.
    assert confirm_pending_subscriptions(get_settings(), cfn=_OneTopicStack(topic)) == []
