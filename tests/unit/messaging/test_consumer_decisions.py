"""The consumer's decisions: back off, dead-letter with a reason, keep FIFO groups apart."""

from __future__ import annotations

import pytest
from messaging_fakes import DLQ_URL, SOURCE_ARN, SOURCE_URL, FakeSqs, envelope_body, sqs_message

from paylab.core.consumer import (
    ATTEMPTS,
    LAST_ERROR,
    MAX_ERROR_CHARS,
    SOURCE_QUEUE,
    ConsumerSettings,
    QueueWorker,
    describe,
    retry_visibility,
)
from paylab.core.consumer_registry import load_handler
from paylab.core.events import Envelope


@pytest.mark.parametrize(("count", "expected"), [(1, 2), (2, 4), (3, 8), (4, None), (5, None)])
def test_visibility_doubles_until_the_last_allowed_receive(
    count: int, expected: int | None
) -> None:
    assert retry_visibility(count, 4, base=2, cap=900) == expected


def test_visibility_is_capped_and_without_a_dlq_never_gives_up() -> None:
    assert retry_visibility(12, None, base=2, cap=60) == 60
    assert retry_visibility(40, None, base=2, cap=10**9) == 43200  # SQS's own limit


def test_errors_are_described_by_class_and_truncated() -> None:
    assert describe(ValueError("bad amount")) == "ValueError: bad amount"
    long = describe(RuntimeError("x" * 5000))
    assert len(long) == MAX_ERROR_CHARS and long.startswith("RuntimeError: xxx")


def _worker(sqs: FakeSqs, handler: object) -> QueueWorker:
    settings = ConsumerSettings(backoff_base_seconds=2, wait_seconds=0)
    return QueueWorker(SOURCE_URL, handler, name="test", sqs=sqs, settings=settings)  # type: ignore[arg-type]


def test_handled_messages_are_deleted_in_one_batch() -> None:
    sqs = FakeSqs()
    seen: list[str] = []
    sqs.queue(SOURCE_URL, [sqs_message(f"m{i}", envelope_body(f"e{i}")) for i in range(3)])

    received = _worker(sqs, lambda e: seen.append(e.id)).run_once()

    assert received == 3 and seen == ["e0", "e1", "e2"]
    assert sqs.calls.count("delete_batch") == 1
    assert [h for _, h in sqs.deleted] == ["rh-m0-1", "rh-m1-1", "rh-m2-1"]
    assert sqs.sent == [] and sqs.visibility == []


@pytest.mark.parametrize(("count", "visibility"), [(1, 2), (2, 4), (3, 8)])
def test_a_failure_before_the_last_receive_comes_back_later(count: int, visibility: int) -> None:
    sqs = FakeSqs(max_receive_count=4)
    sqs.queue(SOURCE_URL, [sqs_message("m1", envelope_body("e1"), count=count)])

    def fail(_: Envelope) -> None:
        raise ConnectionError("sms provider down")

    _worker(sqs, fail).run_once()

    assert sqs.visibility == [(f"rh-m1-{count}", visibility)]
    assert sqs.sent == [] and sqs.deleted == []


def test_the_last_receive_moves_the_message_to_the_dlq_with_its_error() -> None:
    sqs = FakeSqs(max_receive_count=4)
    original = {"type": {"DataType": "String", "StringValue": "PaymentCreated"}}
    sqs.queue(SOURCE_URL, [sqs_message("m1", envelope_body("e1"), count=4, attributes=original)])

    def fail(_: Envelope) -> None:
        raise ConnectionError("sms provider down")

    _worker(sqs, fail).run_once()

    (sent,) = sqs.sent
    assert sent["QueueUrl"] == DLQ_URL
    assert sent["MessageBody"] == envelope_body("e1")
    assert sent["MessageGroupId"] == "pay-1"
    assert sent["MessageDeduplicationId"] == "m1"
    attrs = sent["MessageAttributes"]
    assert attrs[LAST_ERROR]["StringValue"] == "ConnectionError: sms provider down"
    assert attrs[ATTEMPTS] == {"DataType": "Number", "StringValue": "4"}
    assert attrs[SOURCE_QUEUE]["StringValue"] == SOURCE_ARN
    assert attrs["type"] == original["type"]
    # Sent before deleted: a crash in between duplicates, never loses.
    assert sqs.calls.index("send") < sqs.calls.index("delete")
    assert sqs.deleted == [(SOURCE_URL, "rh-m1-4")]


def test_a_body_that_is_not_an_envelope_is_poison_like_any_failure() -> None:
    sqs = FakeSqs(max_receive_count=3)
    handled: list[Envelope] = []
    sqs.queue(SOURCE_URL, [sqs_message("m1", "not json at all", count=3)])

    _worker(sqs, handled.append).run_once()

    assert handled == []
    (sent,) = sqs.sent
    assert sent["MessageAttributes"][LAST_ERROR]["StringValue"].startswith("ValidationError")


def test_a_failure_blocks_only_its_own_group() -> None:
    sqs = FakeSqs(max_receive_count=4)
    batch = [
        sqs_message("a1", envelope_body("ea1", "A"), group="A"),
        sqs_message("b1", envelope_body("eb1", "B"), group="B"),
        sqs_message("a2", envelope_body("ea2", "A"), group="A"),
        sqs_message("b2", envelope_body("eb2", "B"), group="B"),
    ]
    sqs.queue(SOURCE_URL, batch)
    handled: list[str] = []

    def handler(envelope: Envelope) -> None:
        if envelope.id == "ea1":
            raise ValueError("consumer bug")
        handled.append(envelope.id)

    _worker(sqs, handler).run_once()

    assert handled == ["eb1", "eb2"]  # a2 waits behind a1: FIFO order within group A
    assert sorted(sqs.visibility) == [("rh-a1-1", 2), ("rh-a2-1", 2)]
    assert [h for _, h in sqs.deleted] == ["rh-b1-1", "rh-b2-1"]


def test_once_the_failed_message_is_dead_lettered_its_group_flows_again() -> None:
    sqs = FakeSqs(max_receive_count=4)
    sqs.queue(
        SOURCE_URL,
        [
            sqs_message("a1", envelope_body("ea1", "A"), group="A", count=4),
            sqs_message("a2", envelope_body("ea2", "A"), group="A", count=4),
        ],
    )
    handled: list[str] = []

    def handler(envelope: Envelope) -> None:
        if envelope.id == "ea1":
            raise ValueError("consumer bug")
        handled.append(envelope.id)

    _worker(sqs, handler).run_once()

    assert handled == ["ea2"]
    assert [s["MessageDeduplicationId"] for s in sqs.sent] == ["a1"]


def test_a_message_blocked_on_its_last_receive_goes_to_the_dlq_with_the_reason() -> None:
    sqs = FakeSqs(max_receive_count=4)
    sqs.queue(
        SOURCE_URL,
        [
            sqs_message("a1", envelope_body("ea1", "A"), group="A", count=3),
            sqs_message("a2", envelope_body("ea2", "A"), group="A", count=4),
        ],
    )

    def fail(_: Envelope) -> None:
        raise ValueError("consumer bug")

    _worker(sqs, fail).run_once()

    (sent,) = sqs.sent
    assert sent["MessageDeduplicationId"] == "a2"
    assert "a1" in sent["MessageAttributes"][LAST_ERROR]["StringValue"]
    assert sqs.visibility == [("rh-a1-3", 8)]


def test_without_a_redrive_policy_failures_are_only_retried() -> None:
    sqs = FakeSqs(max_receive_count=None)
    sqs.queue(SOURCE_URL, [sqs_message("m1", envelope_body("e1"), count=50)])

    def fail(_: Envelope) -> None:
        raise ValueError("nope")

    _worker(sqs, fail).run_once()

    assert sqs.sent == [] and sqs.visibility == [("rh-m1-50", 900)]


def test_missing_handler_modules_are_skipped_but_broken_ones_are_errors() -> None:
    assert load_handler("paylab.no_such_service.consumers:handle") is None
    handler = load_handler("paylab.core.consumer:describe")
    assert handler is describe  # type: ignore[comparison-overlap]
