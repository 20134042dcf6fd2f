"""Bodies a rule's SQS target receives: the EventBridge event around our Envelope."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from messaging_fakes import DLQ_URL, SOURCE_URL, FakeQueues, FakeSqs, envelope_body, sqs_message
from pydantic import ValidationError

from paylab.core.consumer import (
    LAST_ERROR,
    ConsumerSettings,
    QueueWorker,
)
from paylab.core.consumer_registry import REGISTRY
from paylab.core.events import Envelope, from_eventbridge
from paylab.infra.template import load_template
from paylab.lambdas.dlq_reprocessor import Reprocessor

SHARED = "webhook-failed"


def eventbridge_body(event_id: str, subject: str = "pay-1") -> str:
    """What EventBridge puts in the queue for one PutEvents entry whose Detail is an Envelope."""
    return json.dumps(
        {
            "version": "0",
            "id": "eb-0f1e",
            "detail-type": "WebhookFailed",
            "source": "paylab.merchant",
            "account": "000000000000",
            "time": "2026-12-04T12:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": json.loads(envelope_body(event_id, subject, type_="WebhookFailed")),
        }
    )


def test_the_envelope_is_the_detail() -> None:
    envelope = from_eventbridge(eventbridge_body("evt-1"))
    assert envelope == Envelope.model_validate_json(envelope_body("evt-1", type_="WebhookFailed"))


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (envelope_body("evt-1"), ValueError),  # a bare Envelope has no detail
        ('{"detail": "text"}', ValueError),
        ('{"detail": {"id": "x"}}', ValidationError),
        ("not json", ValueError),
    ],
)
def test_what_is_not_an_eventbridge_envelope_fails(body: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        from_eventbridge(body)


def test_only_the_merchant_consumer_unwraps() -> None:
    parsers = {name: consumer.parse for name, consumer in REGISTRY.items()}
    assert parsers.pop("merchant") is from_eventbridge
    assert set(parsers.values()) == {Envelope.model_validate_json}


def _worker(sqs: FakeSqs, handler: object, shared_group: str | None = None) -> QueueWorker:
    settings = ConsumerSettings(backoff_base_seconds=2, wait_seconds=0, linger_ms=0)
    return QueueWorker(
        SOURCE_URL,
        handler,  # type: ignore[arg-type]
        name="merchant",
        sqs=sqs,
        settings=settings,
        parse=from_eventbridge,
        shared_group=shared_group,
    )


def test_a_worker_with_the_eventbridge_parser_hands_over_the_detail() -> None:
    sqs = FakeSqs()
    sqs.queue(SOURCE_URL, [sqs_message("m1", eventbridge_body("evt-9"), group="webhook-failed")])
    seen: list[Envelope] = []

    _worker(sqs, seen.append).run_once()

    assert [(e.id, e.type) for e in seen] == [("evt-9", "WebhookFailed")]
    assert sqs.deleted == [(SOURCE_URL, "rh-m1-1")]


def test_a_bare_envelope_on_that_queue_is_dead_lettered_with_why() -> None:
    sqs = FakeSqs()
    sqs.queue(SOURCE_URL, [sqs_message("m1", envelope_body("evt-9"), count=4)])

    _worker(sqs, lambda e: None).run_once()

    [sent] = sqs.sent
    assert sent["QueueUrl"] == DLQ_URL
    assert "not an EventBridge event" in sent["MessageAttributes"][LAST_ERROR]["StringValue"]


def test_the_reprocessor_lists_eventbridge_dead_letters_by_our_event() -> None:
    urls = {
        "source": "http://sqs/w.fifo",
        "dlq": "http://sqs/w-dlq.fifo",
        "parking": "http://sqs/w-p.fifo",
    }
    sqs = FakeQueues()
    attributes = {LAST_ERROR: {"DataType": "String", "StringValue": "WebhookStillFailing: x"}}
    sqs.put(urls["parking"], sqs_message("p1", eventbridge_body("evt-3"), attributes=attributes))

    result = Reprocessor(sqs, {"merchant-webhooks": urls}).handle(
        {"action": "list", "queue": "merchant-webhooks"}
    )

    [parked] = result["queues"][0]["parked"]
    assert (parked["event_id"], parked["type"]) == ("evt-3", "WebhookFailed")
    assert parked["last_error"] == "WebhookStillFailing: x"


def test_the_group_the_rule_gives_is_the_one_the_worker_moves_out_of() -> None:
    [target] = load_template()["Resources"]["WebhookFailedRule"]["Properties"]["Targets"]
    assert target["SqsParameters"]["MessageGroupId"] == SHARED
    assert REGISTRY["merchant"].shared_group == SHARED
    assert {c.shared_group for n, c in REGISTRY.items() if n != "merchant"} == {None}


def test_a_message_in_the_shared_group_moves_to_its_aggregates_group_unhandled() -> None:
    sqs = FakeSqs()
    body = eventbridge_body("evt-9", subject="delivery-7")
    attributes = {"paylab-redrives": {"DataType": "Number", "StringValue": "1"}}
    sqs.queue(SOURCE_URL, [sqs_message("m1", body, group=SHARED, attributes=attributes)])
    seen: list[Envelope] = []

    _worker(sqs, seen.append, SHARED).run_once()

    assert seen == []
    [sent] = sqs.sent
    assert sent == {
        "QueueUrl": SOURCE_URL,
        "MessageBody": body,
        "MessageAttributes": attributes,
        "MessageGroupId": "delivery-7",
        "MessageDeduplicationId": "m1",  # a resend after a crash is the same copy
    }
    assert sqs.deleted == [(SOURCE_URL, "rh-m1-1")]
    assert sqs.calls == ["receive", "send", "delete"]  # sent before the original goes


def _two_in_the_shared_group() -> list[dict[str, Any]]:
    """evt-a (delivery-a) then evt-b (delivery-b), as the rule queues them."""
    return [
        sqs_message(event, eventbridge_body(event, subject), group=SHARED)
        for event, subject in (("evt-a", "delivery-a"), ("evt-b", "delivery-b"))
    ]


def _down_for_a(handled: list[str]) -> Callable[[Envelope], None]:
    """A handler whose endpoint is down for delivery-a; the ids it handled go to `handled`."""

    def handler(envelope: Envelope) -> None:
        if envelope.subject_id == "delivery-a":
            raise RuntimeError("endpoint down")
        handled.append(envelope.id)

    return handler


def test_one_failing_event_holds_up_no_other() -> None:
    sqs = FakeQueues()
    for message in _two_in_the_shared_group():
        sqs.put(SOURCE_URL, message)
    handled: list[str] = []

    worker = _worker(sqs, _down_for_a(handled), SHARED)
    worker.run_once()  # both move to their own groups
    worker.run_once()  # a fails, b is handled all the same

    assert handled == ["evt-b"]
    [(receipt, seconds)] = sqs.visibility
    assert receipt == "rh-sent-1" and seconds == 2  # a comes back after its backoff
    remaining = sqs.messages[SOURCE_URL]
    assert [m["Attributes"]["MessageGroupId"] for m in remaining] == ["delivery-a"]


def test_the_shared_group_without_regrouping_holds_the_next_event_behind_a_failure() -> None:
    """What the regrouping is for: one FIFO group, one failure, everyone behind it waits."""
    sqs = FakeSqs()
    sqs.queue(SOURCE_URL, _two_in_the_shared_group())
    handled: list[str] = []

    _worker(sqs, _down_for_a(handled)).run_once()

    assert handled == []
    assert sqs.visibility == [("rh-evt-a-1", 2), ("rh-evt-b-1", 2)]


def test_a_body_that_does_not_parse_leaves_the_shared_group_for_the_dlq_at_once() -> None:
    sqs = FakeSqs()
    sqs.queue(SOURCE_URL, [sqs_message("m1", "not json", group=SHARED)])

    _worker(sqs, lambda e: None, SHARED).run_once()

    [sent] = sqs.sent
    assert sent["QueueUrl"] == DLQ_URL and sent["MessageGroupId"] == SHARED
    assert sent["MessageAttributes"][LAST_ERROR]["StringValue"].startswith("JSONDecodeError")
    assert sqs.deleted == [(SOURCE_URL, "rh-m1-1")]


@pytest.mark.parametrize("subject", ["has space", "x" * 129, SHARED])
def test_a_subject_sqs_cannot_take_as_a_group_goes_to_the_dlq_at_once(subject: str) -> None:
    sqs = FakeSqs()
    sqs.queue(SOURCE_URL, [sqs_message("m1", eventbridge_body("e", subject), group=SHARED)])

    _worker(sqs, lambda e: None, SHARED).run_once()

    [sent] = sqs.sent
    assert sent["QueueUrl"] == DLQ_URL
    assert "cannot be a MessageGroupId" in sent["MessageAttributes"][LAST_ERROR]["StringValue"]
    assert sqs.deleted == [(SOURCE_URL, "rh-m1-1")]


def test_when_the_move_fails_the_original_stays_and_comes_back() -> None:
    sqs = FakeSqs()
    sqs.fail_send = True
    sqs.queue(SOURCE_URL, [sqs_message("m1", eventbridge_body("evt-1"), group=SHARED)])

    _worker(sqs, lambda e: None, SHARED).run_once()

    assert sqs.deleted == []
    assert sqs.visibility == [("rh-m1-1", 2)]
