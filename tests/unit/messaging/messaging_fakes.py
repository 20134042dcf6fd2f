"""A fake SQS client: records calls, hands out the messages a test queues up."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from paylab.core.events import Envelope

SOURCE_URL = "http://sqs.local/000000000000/app-audit-ops.fifo"
SOURCE_ARN = "arn:aws:sqs:us-east-1:000000000000:app-audit-ops.fifo"
DLQ_ARN = "arn:aws:sqs:us-east-1:000000000000:app-audit-ops-dlq.fifo"
DLQ_URL = "http://sqs.local/000000000000/app-audit-ops-dlq.fifo"


def envelope_body(event_id: str, subject: str = "pay-1", type_: str = "PaymentCreated") -> str:
    return Envelope(
        id=event_id,
        type=type_,
        source="payment",
        subject_id=subject,
        correlation_id="corr-1",
        occurred_at=datetime(2026, 12, 4, 12, 0, tzinfo=UTC),
        data={"amount": "10.00"},
    ).to_json()


def sqs_message(
    message_id: str,
    body: str,
    *,
    group: str = "pay-1",
    count: int = 1,
    attributes: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    return {
        "MessageId": message_id,
        "ReceiptHandle": f"rh-{message_id}-{count}",
        "Body": body,
        "Attributes": {"MessageGroupId": group, "ApproximateReceiveCount": str(count)},
        "MessageAttributes": attributes or {},
    }


class FakeSqs:
    """Just enough SQS for the consumer and the DLQ reprocessor."""

    def __init__(self, max_receive_count: int | None = 4) -> None:
        self.inbox: dict[str, list[list[dict[str, Any]]]] = {}
        self.sent: list[dict[str, Any]] = []
        self.deleted: list[tuple[str, str]] = []
        self.visibility: list[tuple[str, int]] = []
        self.calls: list[str] = []
        self.max_receive_count = max_receive_count
        self.fail_send = False

    def queue(self, url: str, *batches: list[dict[str, Any]]) -> None:
        self.inbox.setdefault(url, []).extend(batches)

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "QueueArn": SOURCE_ARN,
            "ApproximateNumberOfMessages": str(len(self.inbox.get(QueueUrl, []))),
            "ApproximateNumberOfMessagesNotVisible": "0",
        }
        if self.max_receive_count is not None:
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": self.max_receive_count}
            )
        return {"Attributes": attributes}

    def get_queue_url(self, QueueName: str, QueueOwnerAWSAccountId: str) -> dict[str, Any]:
        assert QueueName == DLQ_ARN.split(":")[5]
        assert QueueOwnerAWSAccountId == "000000000000"
        return {"QueueUrl": DLQ_URL}

    def receive_message(self, QueueUrl: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("receive")
        batches = self.inbox.get(QueueUrl, [])
        return {"Messages": batches.pop(0)} if batches else {}

    def send_message(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("send")
        if self.fail_send:
            raise ConnectionError("SQS is down")
        self.sent.append(kwargs)
        return {"MessageId": f"sent-{len(self.sent)}"}

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> None:
        self.calls.append("delete")
        self.deleted.append((QueueUrl, ReceiptHandle))

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.calls.append("delete_batch")
        self.deleted.extend((QueueUrl, e["ReceiptHandle"]) for e in Entries)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def change_message_visibility(
        self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int
    ) -> None:
        self.calls.append("visibility")
        self.visibility.append((ReceiptHandle, VisibilityTimeout))


class FakeQueues(FakeSqs):
    """FakeSqs whose queues hold messages (receive takes up to N, send appends)."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.released: list[tuple[str, str, int]] = []

    def put(self, url: str, message: dict[str, Any]) -> None:
        self.messages.setdefault(url, []).append(message)

    def receive_message(self, QueueUrl: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("receive")
        queue = self.messages.get(QueueUrl, [])
        taken = [m for m in queue if not m.get("_hidden")][: kwargs["MaxNumberOfMessages"]]
        for m in taken:
            m["_hidden"] = True
        return {"Messages": [{k: v for k, v in m.items() if k != "_hidden"} for m in taken]}

    def send_message(self, **kwargs: Any) -> dict[str, Any]:
        response = super().send_message(**kwargs)
        self.put(
            kwargs["QueueUrl"],
            {
                "MessageId": response["MessageId"],
                "ReceiptHandle": f"rh-{response['MessageId']}",
                "Body": kwargs["MessageBody"],
                "Attributes": {"MessageGroupId": kwargs.get("MessageGroupId", "")},
                "MessageAttributes": kwargs.get("MessageAttributes", {}),
            },
        )
        return response

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> None:
        super().delete_message(QueueUrl, ReceiptHandle)
        self.messages[QueueUrl] = [
            m for m in self.messages.get(QueueUrl, []) if m["ReceiptHandle"] != ReceiptHandle
        ]

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        gone = {e["ReceiptHandle"] for e in Entries}
        self.messages[QueueUrl] = [
            m for m in self.messages.get(QueueUrl, []) if m["ReceiptHandle"] not in gone
        ]
        return super().delete_message_batch(QueueUrl, Entries)

    def change_message_visibility_batch(
        self, QueueUrl: str, Entries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        for entry in Entries:
            self.released.append((QueueUrl, entry["ReceiptHandle"], entry["VisibilityTimeout"]))
            for m in self.messages.get(QueueUrl, []):
                if m["ReceiptHandle"] == entry["ReceiptHandle"]:
                    m["_hidden"] = False
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:
        queue = self.messages.get(QueueUrl, [])
        attributes = super().get_queue_attributes(QueueUrl, AttributeNames)["Attributes"]
        attributes["ApproximateNumberOfMessages"] = str(sum(not m.get("_hidden") for m in queue))
        attributes["ApproximateNumberOfMessagesNotVisible"] = str(
            sum(bool(m.get("_hidden")) for m in queue)
        )
        return {"Attributes": attributes}
