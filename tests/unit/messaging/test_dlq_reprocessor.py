"""The DLQ reprocessor's decisions: redrive with a new dedup id, park after max redrives, list."""

from __future__ import annotations

import json

import pytest
from messaging_fakes import FakeQueues, envelope_body, sqs_message

from paylab.lambdas import dlq_reprocessor
from paylab.lambdas.dlq_reprocessor import (
    ATTEMPTS,
    LAST_ERROR,
    REDRIVES,
    UNKNOWN_ERROR,
    Reprocessor,
    UnknownQueue,
)

QUEUES = {
    name: {
        "source": f"http://sqs/{name}.fifo",
        "dlq": f"http://sqs/{name}-dlq.fifo",
        "parking": f"http://sqs/{name}-parking.fifo",
    }
    for name in ("notification-ops", "audit-ops")
}
N = QUEUES["notification-ops"]


def _dead(message_id: str, event_id: str, *, redrives: int | None, group: str = "pay-1") -> dict:  # type: ignore[type-arg]
    attributes = {
        "type": {"DataType": "String", "StringValue": "PaymentCreated"},
        LAST_ERROR: {"DataType": "String", "StringValue": "ConnectionError: sms down"},
        ATTEMPTS: {"DataType": "Number", "StringValue": "4"},
    }
    if redrives is not None:
        attributes[REDRIVES] = {"DataType": "Number", "StringValue": str(redrives)}
    return sqs_message(
        message_id, envelope_body(event_id, group), group=group, attributes=attributes
    )


def test_redrive_sends_back_with_the_same_group_and_a_new_dedup_id_then_deletes() -> None:
    sqs = FakeQueues()
    sqs.put(N["dlq"], _dead("d1", "evt-1", redrives=None))
    sqs.put(N["dlq"], _dead("d2", "evt-2", redrives=1, group="pay-2"))

    result = Reprocessor(sqs, QUEUES).handle({"action": "redrive", "queue": "notification-ops"})

    assert result == {
        "action": "redrive",
        "queues": [{"queue": "notification-ops", "redriven": 2, "parked": 0}],
    }
    first, second = sqs.sent
    assert first["QueueUrl"] == N["source"] and first["MessageGroupId"] == "pay-1"
    assert first["MessageDeduplicationId"] == "evt-1:redrive:1"
    assert first["MessageAttributes"][REDRIVES]["StringValue"] == "1"
    # The copy starts clean: a new failure brings its own error.
    assert LAST_ERROR not in first["MessageAttributes"]
    assert first["MessageAttributes"]["type"]["StringValue"] == "PaymentCreated"
    assert second["MessageDeduplicationId"] == "evt-2:redrive:2"
    assert second["MessageGroupId"] == "pay-2"
    assert sqs.messages[N["dlq"]] == []
    # Every move sends before it deletes.
    assert sqs.calls.index("send") < sqs.calls.index("delete")


def test_a_message_redriven_max_times_is_parked_with_its_last_error() -> None:
    sqs = FakeQueues()
    sqs.put(N["dlq"], _dead("d1", "evt-1", redrives=3))
    sqs.put(N["dlq"], _dead("d2", "evt-2", redrives=2))

    result = Reprocessor(sqs, QUEUES, max_redrives=3).redrive("notification-ops", 10)

    assert result == {"queue": "notification-ops", "redriven": 1, "parked": 1}
    parked = [s for s in sqs.sent if s["QueueUrl"] == N["parking"]]
    assert len(parked) == 1
    assert parked[0]["MessageAttributes"][LAST_ERROR]["StringValue"] == "ConnectionError: sms down"
    assert parked[0]["MessageDeduplicationId"] == "d1:parked"


def test_max_messages_bounds_a_redrive() -> None:
    sqs = FakeQueues()
    for n in range(25):
        sqs.put(N["dlq"], _dead(f"d{n}", f"evt-{n}", redrives=None))

    result = Reprocessor(sqs, QUEUES).handle(
        {"action": "redrive", "queue": "notification-ops", "max_messages": 12}
    )

    assert result["queues"][0]["redriven"] == 12
    assert len(sqs.messages[N["dlq"]]) == 13


def test_a_failed_send_deletes_nothing() -> None:
    sqs = FakeQueues()
    sqs.put(N["dlq"], _dead("d1", "evt-1", redrives=None))
    sqs.fail_send = True

    with pytest.raises(ConnectionError):
        Reprocessor(sqs, QUEUES).redrive("notification-ops", 10)

    assert sqs.deleted == [] and len(sqs.messages[N["dlq"]]) == 1


def test_poison_without_an_envelope_id_is_redriven_under_its_message_id() -> None:
    sqs = FakeQueues()
    sqs.put(N["dlq"], sqs_message("d9", "}{ not json"))

    Reprocessor(sqs, QUEUES).redrive("notification-ops", 10)

    assert sqs.sent[0]["MessageDeduplicationId"] == "d9:redrive:1"


def test_list_counts_and_describes_parked_messages_without_consuming_them() -> None:
    sqs = FakeQueues()
    sqs.put(N["dlq"], _dead("d1", "evt-1", redrives=None))
    sqs.put(N["parking"], _dead("p1", "evt-7", redrives=3))
    sqs.put(N["parking"], sqs_message("p2", "garbage"))

    result = Reprocessor(sqs, QUEUES).handle({"action": "list", "queue": "notification-ops"})

    (queue,) = result["queues"]
    assert queue["dlq"] == {"available": 1, "in_flight": 0}
    assert queue["parking"] == {"available": 2, "in_flight": 0}
    assert queue["parked"] == [
        {
            "message_id": "p1",
            "event_id": "evt-7",
            "type": "PaymentCreated",
            "group": "pay-1",
            "attempts": 4,
            "redrives": 3,
            "last_error": "ConnectionError: sms down",
        },
        {
            "message_id": "p2",
            "event_id": "p2",
            "type": None,
            "group": "pay-1",
            "attempts": None,
            "redrives": 0,
            "last_error": UNKNOWN_ERROR,
        },
    ]
    assert sqs.deleted == [] and sqs.sent == []
    assert [r[2] for r in sqs.released] == [0, 0]  # visible again at once


def test_no_queue_means_every_queue_and_unknown_ones_are_refused() -> None:
    sqs = FakeQueues()
    result = Reprocessor(sqs, QUEUES).handle({"action": "list"})
    assert [q["queue"] for q in result["queues"]] == ["audit-ops", "notification-ops"]
    with pytest.raises(UnknownQueue):
        Reprocessor(sqs, QUEUES).handle({"action": "redrive", "queue": "payments"})
    with pytest.raises(ValueError, match="unknown action"):
        Reprocessor(sqs, QUEUES).handle({"action": "purge"})


def test_unpark_moves_parked_messages_back_to_the_dlq_with_redrives_reset() -> None:
    sqs = FakeQueues()
    sqs.put(N["parking"], _dead("p1", "evt-7", redrives=3))

    result = Reprocessor(sqs, QUEUES).handle({"action": "unpark", "queue": "notification-ops"})

    assert result == {"action": "unpark", "queues": [{"queue": "notification-ops", "unparked": 1}]}
    (sent,) = sqs.sent
    assert sent["QueueUrl"] == N["dlq"] and sent["MessageGroupId"] == "pay-1"
    assert REDRIVES not in sent["MessageAttributes"]
    assert sent["MessageAttributes"][LAST_ERROR]["StringValue"] == "ConnectionError: sms down"
    assert sqs.messages[N["parking"]] == []
    # Back in the DLQ with no redrives: the next redrive sends it to its queue, not parking.
    assert Reprocessor(sqs, QUEUES).redrive("notification-ops", 10)["redriven"] == 1


def test_the_lambda_entry_point_reads_its_queues_and_limit_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = FakeQueues()
    sqs.put(N["dlq"], _dead("d1", "evt-1", redrives=1))
    monkeypatch.setenv("PAYLAB_DLQ_QUEUES", json.dumps(QUEUES))
    monkeypatch.setenv("PAYLAB_MAX_REDRIVES", "1")
    monkeypatch.setattr(dlq_reprocessor.boto3, "client", lambda service: sqs)

    result = dlq_reprocessor.handler({"action": "redrive"}, None)

    assert result["queues"] == [
        {"queue": "audit-ops", "redriven": 0, "parked": 0},
        {"queue": "notification-ops", "redriven": 0, "parked": 1},
    ]
    logged = json.loads(capsys.readouterr().out)
    assert logged["event"] == {"action": "redrive"} and logged["result"] == result["queues"]


def test_the_schedules_cool_down_leaves_young_dead_letters_for_a_later_run() -> None:
    """`min_age_seconds`: what died minutes ago is redriven, what just died waits (visible)."""
    import time

    sqs = FakeQueues()
    now_ms = time.time() * 1000
    old = _dead("d-old", "evt-old", redrives=None, group="pay-1")
    old["Attributes"]["SentTimestamp"] = str(int(now_ms - 300_000))
    young = _dead("d-young", "evt-young", redrives=None, group="pay-2")
    young["Attributes"]["SentTimestamp"] = str(int(now_ms - 10_000))
    sqs.put(N["dlq"], old)
    sqs.put(N["dlq"], young)
    result = Reprocessor(sqs, QUEUES).handle(
        {"action": "redrive", "queue": "notification-ops", "min_age_seconds": 240}
    )
    assert result["queues"] == [
        {"queue": "notification-ops", "redriven": 1, "parked": 0, "waiting": 1}
    ]
    assert [m["MessageDeduplicationId"] for m in sqs.sent] == ["evt-old:redrive:1"]
    assert sqs.visibility == [(young["ReceiptHandle"], 0)]  # released for the next run
    # Without the cool-down (an operator's redrive), the young one goes too.
    young.pop("_hidden", None)  # the fake's visibility: released, as the Lambda asked
    sqs.messages[N["dlq"]] = [young]
    assert Reprocessor(sqs, QUEUES).redrive("notification-ops", 10)["redriven"] == 1
    with pytest.raises(ValueError, match="negative"):
        Reprocessor(sqs, QUEUES).handle({"action": "redrive", "min_age_seconds": -1})
