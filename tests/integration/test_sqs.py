"""SQS FIFO as the ops queues use it: per-group order, deduplication, DLQ, redrive."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from .messages import assert_empty, receive
from .resources import AwsClients, Queue
from .waiting import wait_until


def _send(aws: AwsClients, queue: Queue, group: str, dedup: str, body: str) -> str:
    response = aws.sqs.send_message(
        QueueUrl=queue.url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=dedup
    )
    return str(response["MessageId"])


def test_fifo_keeps_order_within_each_message_group(
    aws: AwsClients, sqs_create_queue_with_dlq: Callable[..., tuple[Queue, Queue]]
) -> None:
    queue, _ = sqs_create_queue_with_dlq()
    groups = ["pay-a", "pay-b", "pay-c"]
    for seq in range(5):
        for group in groups:
            _send(aws, queue, group, f"{group}-{seq}", json.dumps({"group": group, "seq": seq}))

    messages = receive(aws.sqs, queue.url, 15)

    seen: dict[str, list[int]] = {g: [] for g in groups}
    sequence_numbers: dict[str, list[int]] = {g: [] for g in groups}
    for message in messages:
        body = json.loads(message["Body"])
        assert message["Attributes"]["MessageGroupId"] == body["group"]
        seen[body["group"]].append(body["seq"])
        sequence_numbers[body["group"]].append(int(message["Attributes"]["SequenceNumber"]))
    assert seen == {g: [0, 1, 2, 3, 4] for g in groups}
    assert all(numbers == sorted(numbers) for numbers in sequence_numbers.values())


def test_fifo_in_flight_message_holds_back_the_rest_of_its_group(
    aws: AwsClients, sqs_create_queue_with_dlq: Callable[..., tuple[Queue, Queue]]
) -> None:
    # Two consumers must never work on the same aggregate at once.
    queue, _ = sqs_create_queue_with_dlq(VisibilityTimeout=30)
    _send(aws, queue, "pay-a", "a1", "a1")
    _send(aws, queue, "pay-a", "a2", "a2")
    _send(aws, queue, "pay-b", "b1", "b1")

    first = aws.sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=1, WaitTimeSeconds=1)
    assert [m["Body"] for m in first["Messages"]] == ["a1"]
    others = receive(aws.sqs, queue.url, 1, delete=False)
    assert [m["Body"] for m in others] == ["b1"]
    assert_empty(aws.sqs, queue.url)  # a2 waits until a1 is done

    aws.sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=first["Messages"][0]["ReceiptHandle"])
    assert [m["Body"] for m in receive(aws.sqs, queue.url, 1)] == ["a2"]


def test_fifo_drops_a_repeated_deduplication_id_even_after_delete(
    aws: AwsClients, sqs_create_queue_with_dlq: Callable[..., tuple[Queue, Queue]]
) -> None:
    queue, _ = sqs_create_queue_with_dlq()
    _send(aws, queue, "pay-a", "evt-1", "first")
    _send(aws, queue, "pay-a", "evt-1", "retry of first")  # a producer retry
    _send(aws, queue, "pay-a", "evt-2", "first")  # same body, different event

    assert [m["Body"] for m in receive(aws.sqs, queue.url, 2)] == ["first", "first"]
    # The 5-minute deduplication window outlives the message itself.
    _send(aws, queue, "pay-a", "evt-1", "late retry of first")
    assert_empty(aws.sqs, queue.url)


def test_fifo_without_content_deduplication_requires_a_deduplication_id(
    aws: AwsClients, sqs_create_queue_with_dlq: Callable[..., tuple[Queue, Queue]]
) -> None:
    queue, _ = sqs_create_queue_with_dlq()
    with pytest.raises(ClientError) as error:
        aws.sqs.send_message(QueueUrl=queue.url, MessageBody="x", MessageGroupId="pay-a")
    assert error.value.response["Error"]["Code"] in (
        "InvalidParameterValue",
        "InvalidParameterValueException",
    )


def _fail_processing(aws: AwsClients, queue: Queue, times: int) -> list[dict[str, str]]:
    """Receive the head message `times` times, each time giving it back unprocessed."""
    attempts = []
    for _ in range(times):
        (message,) = receive(aws.sqs, queue.url, 1, delete=False)
        attempts.append(message["Attributes"])
        aws.sqs.change_message_visibility(
            QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return attempts


def test_message_moves_to_the_dlq_after_max_receive_count(
    aws: AwsClients, sqs_create_queue_with_dlq: Callable[..., tuple[Queue, Queue]]
) -> None:
    queue, dlq = sqs_create_queue_with_dlq(max_receive_count=4, VisibilityTimeout=30)
    _send(aws, queue, "pay-a", "evt-1", "poison")

    attempts = _fail_processing(aws, queue, 4)
    assert [int(a["ApproximateReceiveCount"]) for a in attempts] == [1, 2, 3, 4]

    # The fifth receive finds the message over its limit and dead-letters it.
    assert_empty(aws.sqs, queue.url)
    (dead,) = receive(aws.sqs, dlq.url, 1)
    assert dead["Body"] == "poison"
    assert dead["Attributes"]["MessageGroupId"] == "pay-a"
    assert dead["Attributes"]["DeadLetterQueueSourceArn"] == queue.arn


def test_message_move_task_redrives_the_dlq_back_to_its_source(
    aws: AwsClients, sqs_create_queue_with_dlq: Callable[..., tuple[Queue, Queue]]
) -> None:
    queue, dlq = sqs_create_queue_with_dlq(max_receive_count=1, VisibilityTimeout=30)
    for n in range(3):
        _send(aws, queue, "pay-a", f"evt-{n}", f"op-{n}")
    for _ in range(3):
        _fail_processing(aws, queue, 1)
    assert_empty(aws.sqs, queue.url)  # the receive that dead-letters the last one
    wait_until(
        lambda: (
            aws.sqs.get_queue_attributes(
                QueueUrl=dlq.url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
            == "3"
        ),
        timeout=10,
        description="3 messages in the DLQ",
    )

    task = aws.sqs.start_message_move_task(SourceArn=dlq.arn)  # no destination: the source
    assert task["TaskHandle"]

    def finished() -> dict[str, object] | None:
        tasks = aws.sqs.list_message_move_tasks(SourceArn=dlq.arn)["Results"]
        return tasks[0] if tasks and tasks[0]["Status"] != "RUNNING" else None

    result = wait_until(finished, timeout=15, description="the message move task")
    assert result["Status"] == "COMPLETED", result
    assert result["ApproximateNumberOfMessagesMoved"] == 3
    redriven = receive(aws.sqs, queue.url, 3, timeout=10)
    assert [m["Body"] for m in redriven] == ["op-0", "op-1", "op-2"]
    assert {m["Attributes"]["MessageGroupId"] for m in redriven} == {"pay-a"}
    assert_empty(aws.sqs, dlq.url)
