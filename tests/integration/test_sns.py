"""SNS as the event topics use it: fan-out to SQS and signed pushes to HTTP endpoints."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable

import pytest

from .http_sink import HttpSink
from .messages import allow_service_to_send, receive
from .resources import AwsClients, Queue
from .sns_signature import SignatureError, verify

ENVELOPE_FIELDS = {
    "Type",
    "MessageId",
    "TopicArn",
    "Message",
    "Timestamp",
    "SignatureVersion",
    "Signature",
    "SigningCertURL",
    "UnsubscribeURL",
}


def _subscribe_queue(aws: AwsClients, topic_arn: str, queue: Queue, *, raw: bool) -> str:
    allow_service_to_send(aws.sqs, queue.url, queue.arn, "sns.amazonaws.com", topic_arn)
    return str(
        aws.sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue.arn,
            Attributes={"RawMessageDelivery": "true" if raw else "false"},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
    )


def test_topic_fans_out_to_raw_and_enveloped_queue_subscriptions(
    aws: AwsClients,
    sns_create_topic: Callable[[], str],
    sqs_create_queue: Callable[..., Queue],
) -> None:
    topic = sns_create_topic()
    raw_queue, enveloped_queue = sqs_create_queue(), sqs_create_queue()
    _subscribe_queue(aws, topic, raw_queue, raw=True)
    _subscribe_queue(aws, topic, enveloped_queue, raw=False)

    events = [json.dumps({"id": f"evt-{n}", "type": "PaymentCreated"}) for n in range(3)]
    for event in events:
        aws.sns.publish(
            TopicArn=topic,
            Message=event,
            Subject="PaymentCreated",
            MessageAttributes={"type": {"DataType": "String", "StringValue": "PaymentCreated"}},
        )

    raw = receive(aws.sqs, raw_queue.url, 3)
    assert sorted(m["Body"] for m in raw) == sorted(events)
    assert {m["MessageAttributes"]["type"]["StringValue"] for m in raw} == {"PaymentCreated"}

    enveloped = [json.loads(m["Body"]) for m in receive(aws.sqs, enveloped_queue.url, 3)]
    assert sorted(e["Message"] for e in enveloped) == sorted(events)
    for envelope in enveloped:
        assert envelope.keys() >= ENVELOPE_FIELDS
        assert envelope["Type"] == "Notification"
        assert envelope["TopicArn"] == topic
        assert envelope["Subject"] == "PaymentCreated"
        assert envelope["MessageAttributes"]["type"] == {
            "Type": "String",
            "Value": "PaymentCreated",
        }
    assert len({e["MessageId"] for e in enveloped}) == 3


def test_http_subscription_confirms_then_receives_signed_notifications(
    aws: AwsClients, sns_create_topic: Callable[[], str], http_sink: HttpSink
) -> None:
    topic = sns_create_topic()
    subscription = aws.sns.subscribe(
        TopicArn=topic,
        Protocol="http",
        Endpoint=f"{http_sink.url}/sns/payment-events",
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]

    confirmation = http_sink.next_request()
    assert confirmation.path == "/sns/payment-events"
    assert confirmation.headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    body = confirmation.json()
    assert body["Type"] == "SubscriptionConfirmation"
    assert body["TopicArn"] == topic
    assert body["Token"]
    verify(body)
    # What an endpoint does to accept the subscription: GET the SubscribeURL.
    with urllib.request.urlopen(body["SubscribeURL"], timeout=5) as response:
        assert response.status == 200
    attributes = aws.sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert attributes["PendingConfirmation"] == "false"

    event = json.dumps({"id": "evt-1", "type": "PaymentCompleted"})
    aws.sns.publish(TopicArn=topic, Message=event, Subject="PaymentCompleted")

    delivery = http_sink.next_request()
    assert delivery.headers["x-amz-sns-message-type"] == "Notification"
    assert delivery.headers["x-amz-sns-topic-arn"] == topic
    assert delivery.headers["x-amz-sns-subscription-arn"] == subscription
    notification = delivery.json()
    assert notification.keys() >= ENVELOPE_FIELDS
    assert notification["Message"] == event
    assert notification["SignatureVersion"] in ("1", "2")
    verify(notification)
    # A tampered message must not verify: the check is real.
    with pytest.raises(SignatureError):
        verify({**notification, "Message": event.replace("evt-1", "evt-2")})
