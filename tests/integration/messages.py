"""Reading SQS queues in tests: receive a known number of messages, or prove there are none."""

from __future__ import annotations

import json
from typing import Any

from .waiting import wait_until


def receive(
    sqs: Any,
    queue_url: str,
    count: int,
    *,
    timeout: float = 10.0,
    delete: bool = True,
) -> list[dict[str, Any]]:
    """Exactly the first `count` messages to arrive, in receive order (deleted unless told)."""
    received: list[dict[str, Any]] = []

    def poll() -> bool:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, count - len(received)),
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        for message in response.get("Messages", []):
            received.append(message)
            if delete:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(received) >= count

    wait_until(poll, timeout=timeout, interval=0, description=f"{count} messages on {queue_url}")
    assert len(received) == count, f"expected {count} messages, got {len(received)}"
    return received


def assert_empty(sqs: Any, queue_url: str, *, wait_seconds: int = 1) -> None:
    """Nothing (more) arrives on the queue within one long poll of `wait_seconds`."""
    response = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
    )
    bodies = [m["Body"] for m in response.get("Messages", [])]
    assert bodies == [], f"unexpected messages on {queue_url}"


def allow_service_to_send(
    sqs: Any, queue_url: str, queue_arn: str, service: str, source_arn: str
) -> None:
    """The queue policy AWS needs before SNS or EventBridge may deliver (LocalStack ignores it)."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
