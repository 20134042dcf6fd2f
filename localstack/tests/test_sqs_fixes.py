"""sqs_fixes.py: a FIFO message dead-lettered and redriven with StartMessageMoveTask arrives."""

import json
import uuid
from typing import Any

from conftest import LocalStack, client, wait_until


def _fifo_queue_with_dlq(sqs: Any) -> tuple[str, str, str]:
    """A FIFO queue (maxReceiveCount 1) and its FIFO DLQ: source URL, DLQ URL, DLQ ARN."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    url = sqs.create_queue(
        QueueName=f"{name}.fifo",
        Attributes={"FifoQueue": "true", "RedrivePolicy": policy, "VisibilityTimeout": "0"},
    )["QueueUrl"]
    return url, dlq_url, dlq_arn


def _count(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_fifo_message_survives_dead_lettering_and_redrive(localstack: LocalStack) -> None:
    sqs = client("sqs")
    url, dlq_url, dlq_arn = _fifo_queue_with_dlq(sqs)
    sent = sqs.send_message(
        QueueUrl=url, MessageBody="op-1", MessageGroupId="g", MessageDeduplicationId="evt-1"
    )
    assert sqs.receive_message(QueueUrl=url)["Messages"]  # first receive: count 1
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # second: dead-lettered
    assert wait_until(lambda: _count(sqs, dlq_url) == 1, timeout=10)

    in_dlq = sqs.receive_message(
        QueueUrl=dlq_url, MessageSystemAttributeNames=["All"], VisibilityTimeout=0
    )["Messages"][0]
    assert in_dlq["MessageId"] == sent["MessageId"]
    assert in_dlq["Attributes"]["MessageDeduplicationId"] == sent["MessageId"]

    sqs.start_message_move_task(SourceArn=dlq_arn)
    assert wait_until(lambda: _count(sqs, url) == 1, timeout=10), "the redriven message was lost"
    redriven = sqs.receive_message(QueueUrl=url)["Messages"]
    assert [m["Body"] for m in redriven] == ["op-1"]


def test_deduplication_entries_expire_after_the_window_only() -> None:
    """LocalStack kept every FIFO message ever sent in its deduplication map."""
    from types import SimpleNamespace

    from localstack.services.sqs.constants import DEDUPLICATION_INTERVAL_IN_SEC

    from paylab_localstack.sqs_fixes import expire_deduplication

    now = 10_000.0
    queue = SimpleNamespace(
        deduplication={
            "old": SimpleNamespace(priority=now - DEDUPLICATION_INTERVAL_IN_SEC - 1),
            "recent": SimpleNamespace(priority=now - DEDUPLICATION_INTERVAL_IN_SEC + 1),
        }
    )
    assert expire_deduplication(queue, now) == 1
    assert list(queue.deduplication) == ["recent"]


def test_a_duplicate_within_the_window_is_still_dropped(localstack: LocalStack) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(
        QueueName=f"t-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    first = sqs.send_message(
        QueueUrl=url, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="same"
    )
    again = sqs.send_message(
        QueueUrl=url, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="same"
    )
    assert again["MessageId"] == first["MessageId"]
    assert _count(sqs, url) == 1
