"""EventBridge as the `paylab` bus uses it: a pattern rule on a custom bus feeding SQS."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .messages import allow_service_to_send, assert_empty, receive
from .resources import AwsClients, Queue

PATTERN = {
    "source": ["paylab.payment"],
    "detail-type": ["PaymentProcessingStarted"],
    "detail": {"method": ["card", "pse"]},
}


def _put(aws: AwsClients, bus: str, detail_type: str, detail: dict[str, Any]) -> None:
    response = aws.events.put_events(
        Entries=[
            {
                "EventBusName": bus,
                "Source": "paylab.payment",
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
            }
        ]
    )
    assert response["FailedEntryCount"] == 0, response["Entries"]


def test_pattern_rule_on_custom_bus_delivers_only_matching_events_to_sqs(
    aws: AwsClients,
    events_create_bus: Callable[[], str],
    sqs_create_queue: Callable[..., Queue],
) -> None:
    bus = events_create_bus()
    queue = sqs_create_queue()
    rule_arn = aws.events.put_rule(
        Name="payment-processing-started", EventBusName=bus, EventPattern=json.dumps(PATTERN)
    )["RuleArn"]
    allow_service_to_send(aws.sqs, queue.url, queue.arn, "events.amazonaws.com", rule_arn)
    targets = aws.events.put_targets(
        Rule="payment-processing-started",
        EventBusName=bus,
        Targets=[{"Id": "ops", "Arn": queue.arn}],
    )
    assert targets["FailedEntryCount"] == 0

    _put(aws, bus, "PaymentProcessingStarted", {"payment_id": "p-1", "method": "wallet"})
    _put(aws, bus, "LowBalanceAlert", {"payment_id": "p-2", "method": "card"})
    _put(aws, "default", "PaymentProcessingStarted", {"payment_id": "p-3", "method": "card"})
    _put(aws, bus, "PaymentProcessingStarted", {"payment_id": "p-4", "method": "card"})
    _put(aws, bus, "PaymentProcessingStarted", {"payment_id": "p-5", "method": "pse"})

    delivered = [json.loads(m["Body"]) for m in receive(aws.sqs, queue.url, 2)]
    assert sorted(e["detail"]["payment_id"] for e in delivered) == ["p-4", "p-5"]
    for event in delivered:
        assert event["source"] == "paylab.payment"
        assert event["detail-type"] == "PaymentProcessingStarted"
        assert event.keys() >= {"id", "time", "account", "region", "resources"}
    assert_empty(aws.sqs, queue.url)
