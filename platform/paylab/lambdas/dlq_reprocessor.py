"""The DLQ reprocessor: lists dead letters and moves them back once the cause is fixed.

Event: `{"action": "list" | "redrive" | "unpark", "queue": "notification-ops" | "audit-ops" |
"merchant-webhooks" | None, "max_messages": N}` (no queue: all of them). Run by the
EventBridge schedule (redrive), `./paylab dlq` and the gateway's
`POST /v1/ops/dlq/{queue}/redrive`: one code path.

Redrive receives from the DLQ and sends each message back to its source queue with the same
MessageGroupId and a new deduplication id `<event id>:redrive:<n>` (FIFO would silently drop
a resend with the original id within its 5-minute window; consumers deduplicate by event id
anyway), counting `paylab-redrives`; a message already redriven `PAYLAB_MAX_REDRIVES` times
goes to the parking queue instead, with its last error. Unpark moves parked messages back to
the DLQ with their redrive count reset, once their cause is fixed. Every move sends before it
deletes: a crash in between leaves a duplicate (harmless), never a loss.

Environment: PAYLAB_DLQ_QUEUES, JSON `{"notification-ops": {"source": url, "dlq": url,
"parking": url}, ...}`; PAYLAB_MAX_REDRIVES (default 3).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import boto3

# The attribute names paylab.core.consumer writes (the Lambda zip holds only paylab/lambdas).
LAST_ERROR = "paylab-last-error"
ATTEMPTS = "paylab-attempts"
SOURCE_QUEUE = "paylab-source-queue"
REDRIVES = "paylab-redrives"
UNKNOWN_ERROR = "unknown (consumer died)"
DEFAULT_MAX_MESSAGES = 100
# Long enough to move one receive batch; a message not moved by then is simply seen again.
_MOVE_VISIBILITY = 30


class UnknownQueue(ValueError):
    """The event names a queue the reprocessor does not manage."""


def _attribute(message: dict[str, Any], name: str) -> str | None:
    value = message.get("MessageAttributes", {}).get(name)
    return None if value is None else str(value.get("StringValue", ""))


def _event_id(message: dict[str, Any]) -> str:
    """The envelope's id; poison that is not an envelope falls back to its SQS id."""
    try:
        body = json.loads(message["Body"])
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), dict):
        body = body["detail"]  # an EventBridge event (merchant-webhooks): ours is its detail
    if isinstance(body, dict) and isinstance(body.get("id"), str) and body["id"]:
        return str(body["id"])[:100]
    return str(message["MessageId"])


def _event_type(message: dict[str, Any]) -> str | None:
    kind = _attribute(message, "type")
    if kind:
        return kind
    try:
        body = json.loads(message["Body"])
    except ValueError:
        return None
    if isinstance(body, dict) and "detail-type" in body:
        return str(body["detail-type"])
    return str(body["type"]) if isinstance(body, dict) and "type" in body else None


def _sendable(message: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """Message attributes in SendMessage's shape, without `drop`."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in message.get("MessageAttributes", {}).items():
        if name not in drop:
            out[name] = {
                k: value[k] for k in ("DataType", "StringValue", "BinaryValue") if k in value
            }
    return out


class Reprocessor:
    """The list and redrive actions over the configured queues."""

    def __init__(self, sqs: Any, queues: dict[str, dict[str, str]], max_redrives: int = 3) -> None:
        self.sqs, self.queues, self.max_redrives = sqs, queues, max_redrives

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """Run one event; raises UnknownQueue / ValueError for a bad one."""
        action = event.get("action", "redrive")
        names = self._names(event.get("queue"))
        limit = int(event.get("max_messages") or DEFAULT_MAX_MESSAGES)
        if limit < 1:
            raise ValueError("max_messages must be at least 1")
        if action == "list":
            return {"action": "list", "queues": [self.list_queue(n, limit) for n in names]}
        if action == "redrive":
            min_age = float(event.get("min_age_seconds") or 0)
            if min_age < 0:
                raise ValueError("min_age_seconds must not be negative")
            return {
                "action": "redrive",
                "queues": [self.redrive(n, limit, min_age) for n in names],
            }
        if action == "unpark":
            return {"action": "unpark", "queues": [self.unpark(n, limit) for n in names]}
        raise ValueError(f"unknown action {action!r}; use 'list', 'redrive' or 'unpark'")

    def _names(self, queue: str | None) -> list[str]:
        if queue is None:
            return sorted(self.queues)
        if queue not in self.queues:
            raise UnknownQueue(f"unknown queue {queue!r}; choose from {sorted(self.queues)}")
        return [queue]

    # -- redrive ----------------------------------------------------------------------------

    def redrive(self, name: str, limit: int, min_age_seconds: float = 0.0) -> dict[str, Any]:
        """Move up to `limit` messages out of `name`'s DLQ: back to the source, or parked.

        With `min_age_seconds` (the schedule's cool-down), a dead letter younger than that
        stays for a later run: an operator gets time to look at it, and a dependency that
        just failed gets time to recover instead of the message bouncing straight back.
        """
        urls = self.queues[name]
        redriven = parked = 0
        waiting: dict[str, str] = {}  # message id -> receipt handle, released at the end
        cutoff_ms = (time.time() - min_age_seconds) * 1000
        while redriven + parked < limit:
            messages = self._receive(urls["dlq"], min(10, limit - redriven - parked))
            fresh = [m for m in messages if m["MessageId"] not in waiting]
            if not fresh:
                break
            for message in fresh:
                sent = float(message.get("Attributes", {}).get("SentTimestamp") or 0)
                if min_age_seconds and sent > cutoff_ms:
                    waiting[message["MessageId"]] = message["ReceiptHandle"]
                    continue
                count = int(_attribute(message, REDRIVES) or "0")
                if count >= self.max_redrives:
                    self._park(urls, message)
                    parked += 1
                else:
                    self._send_back(urls, message, count + 1)
                    redriven += 1
        for handle in waiting.values():  # visible again at once, for the next run
            self.sqs.change_message_visibility(
                QueueUrl=urls["dlq"], ReceiptHandle=handle, VisibilityTimeout=0
            )
        result: dict[str, Any] = {"queue": name, "redriven": redriven, "parked": parked}
        if min_age_seconds:
            result["waiting"] = len(waiting)
        return result

    def _send_back(self, urls: dict[str, str], message: dict[str, Any], n: int) -> None:
        # The error belongs to the last failure: a copy that fails again gets a new one, and
        # one whose consumer dies must not show a stale error.
        attributes = _sendable(message, drop=(LAST_ERROR, ATTEMPTS, SOURCE_QUEUE))
        attributes[REDRIVES] = {"DataType": "Number", "StringValue": str(n)}
        request: dict[str, Any] = {
            "QueueUrl": urls["source"],
            "MessageBody": message["Body"],
            "MessageAttributes": attributes,
        }
        if urls["source"].endswith(".fifo"):
            request["MessageGroupId"] = message["Attributes"]["MessageGroupId"]
            request["MessageDeduplicationId"] = f"{_event_id(message)}:redrive:{n}"
        self.sqs.send_message(**request)
        self.sqs.delete_message(QueueUrl=urls["dlq"], ReceiptHandle=message["ReceiptHandle"])

    def _park(self, urls: dict[str, str], message: dict[str, Any]) -> None:
        attributes = _sendable(message)
        if LAST_ERROR not in attributes:
            attributes[LAST_ERROR] = {"DataType": "String", "StringValue": UNKNOWN_ERROR}
        request: dict[str, Any] = {
            "QueueUrl": urls["parking"],
            "MessageBody": message["Body"],
            "MessageAttributes": attributes,
        }
        if urls["parking"].endswith(".fifo"):
            request["MessageGroupId"] = message["Attributes"]["MessageGroupId"]
            # The DLQ message's own id: stable across receives, so a retried park dedups.
            request["MessageDeduplicationId"] = f"{message['MessageId']}:parked"
        self.sqs.send_message(**request)
        self.sqs.delete_message(QueueUrl=urls["dlq"], ReceiptHandle=message["ReceiptHandle"])

    def unpark(self, name: str, limit: int) -> dict[str, Any]:
        """Move up to `limit` parked messages back to the DLQ, their redrive count reset."""
        urls = self.queues[name]
        moved = 0
        while moved < limit:
            messages = self._receive(urls["parking"], min(10, limit - moved))
            if not messages:
                break
            for message in messages:
                request: dict[str, Any] = {
                    "QueueUrl": urls["dlq"],
                    "MessageBody": message["Body"],
                    "MessageAttributes": _sendable(message, drop=(REDRIVES,)),
                }
                if urls["dlq"].endswith(".fifo"):
                    request["MessageGroupId"] = message["Attributes"]["MessageGroupId"]
                    request["MessageDeduplicationId"] = f"{message['MessageId']}:unparked"
                self.sqs.send_message(**request)
                self.sqs.delete_message(
                    QueueUrl=urls["parking"], ReceiptHandle=message["ReceiptHandle"]
                )
                moved += 1
        return {"queue": name, "unparked": moved}

    def _receive(
        self, url: str, count: int, visibility: int = _MOVE_VISIBILITY
    ) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=0,
            VisibilityTimeout=visibility,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    # -- list -------------------------------------------------------------------------------

    def list_queue(self, name: str, limit: int) -> dict[str, Any]:
        """Counts of the DLQ and parking queue, and up to `limit` parked messages."""
        urls = self.queues[name]
        return {
            "queue": name,
            "dlq": self._counts(urls["dlq"]),
            "parking": self._counts(urls["parking"]),
            "parked": [self._describe(m) for m in self._peek(urls["parking"], limit)],
        }

    def _counts(self, url: str) -> dict[str, int]:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return {
            "available": int(attributes.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        }

    def _peek(self, url: str, limit: int) -> list[dict[str, Any]]:
        """Read without consuming: receive (hidden briefly), then make them visible again.

        A receive with VisibilityTimeout 0 would return the same first messages on every
        call, so paging needs them hidden while it reads; releasing them right after (visibility
        0) puts them back at once. Nothing is deleted, and the parking queue has no
        RedrivePolicy, so the receive count it bumps has no effect.
        """
        seen: list[dict[str, Any]] = []
        while len(seen) < limit:
            batch = self._receive(url, min(10, limit - len(seen)), visibility=60)
            if not batch:
                break
            seen.extend(batch)
        for start in range(0, len(seen), 10):
            self.sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(seen[start : start + 10])
                ],
            )
        return seen

    @staticmethod
    def _describe(message: dict[str, Any]) -> dict[str, Any]:
        attempts = _attribute(message, ATTEMPTS)
        return {
            "message_id": message["MessageId"],
            "event_id": _event_id(message),
            "type": _event_type(message),
            "group": message.get("Attributes", {}).get("MessageGroupId"),
            "attempts": int(attempts) if attempts else None,
            "redrives": int(_attribute(message, REDRIVES) or "0"),
            "last_error": _attribute(message, LAST_ERROR) or UNKNOWN_ERROR,
        }


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Lambda entry point: `{"action", "queue", "max_messages"}` → counts and moves."""
    queues = json.loads(os.environ["PAYLAB_DLQ_QUEUES"])
    max_redrives = int(os.environ.get("PAYLAB_MAX_REDRIVES", "3"))
    result = Reprocessor(boto3.client("sqs"), queues, max_redrives).handle(event or {})
    # One JSON line per run in the function's log: who asked for what, and what moved
    # (counts only: the parked messages' details stay out of the log).
    summary = [{k: v for k, v in q.items() if not isinstance(v, list)} for q in result["queues"]]
    print(json.dumps({"event": event, "result": summary}))
    return result
