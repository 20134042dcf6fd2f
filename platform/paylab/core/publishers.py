"""Publishing outbox rows to SNS, EventBridge and SQS FIFO in batches, reporting per-row results.

Destinations are logical ("sns:payment-events"); the stack's outputs give their ARNs and URLs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from paylab.core.aws import client
from paylab.core.stack_outputs import stack_outputs

log = structlog.get_logger(component="outbox-relay")

BATCH = 10  # the limit of PublishBatch, PutEvents and SendMessageBatch alike

# Logical destination -> the stack output that names it.
_OUTPUTS = {
    "sns:payment-events": "PaymentEventsTopicArn",
    "sns:wallet-events": "WalletEventsTopicArn",
    "sns:merchant-events": "MerchantEventsTopicArn",
    "events:paylab": "EventBusName",
    "sqs:notification-ops": "NotificationOpsQueueUrl",
    "sqs:audit-ops": "AuditOpsQueueUrl",
    "sqs:merchant-ops": "MerchantOpsQueueUrl",
}


@dataclass(frozen=True)
class OutboxMessage:
    """One outbox row, as the relay hands it to a publisher."""

    id: str
    aggregate_id: str
    event_type: str
    payload: dict[str, Any]

    @property
    def body(self) -> str:
        return json.dumps(self.payload, separators=(",", ":"), sort_keys=True)


def _bus_source(payload: dict[str, Any]) -> str:
    # Envelopes already say "paylab.wallet"; prefixing again gave rules "paylab.paylab.wallet".
    source = str(payload.get("source") or "platform")
    return source if source.startswith("paylab.") else f"paylab.{source}"


class Publisher:
    """Sends messages to one logical destination; returns the ids that were accepted."""

    def __init__(
        self,
        sns: Any = None,
        events: Any = None,
        sqs: Any = None,
        targets: dict[str, str] | None = None,
    ) -> None:
        self._sns, self._events, self._sqs = sns, events, sqs
        # ARN / URL / bus name per destination; from the stack's outputs unless given.
        self._targets = targets

    def publish(self, destination: str, messages: Sequence[OutboxMessage]) -> set[str]:
        """Publish in order and in batches; returns the ids the destination accepted.

        Once a message is refused, the later messages of its aggregate are not sent: sent after
        it, they would arrive before it when the relay sends it again. A call that fails (AWS
        down, throttled past the retries) ends the publication with what was accepted so far.
        """
        if destination not in _OUTPUTS:
            raise ValueError(f"unknown destination {destination!r}")
        if self._targets is None:
            outputs = stack_outputs()
            self._targets = {d: outputs[key] for d, key in _OUTPUTS.items()}
        target = self._targets[destination]
        send = {"sns": self._sns_batch, "events": self._events_batch}.get(
            destination.split(":", 1)[0], self._sqs_batch
        )
        accepted: set[str] = set()
        remaining = list(messages)
        while remaining:
            batch, remaining = remaining[:BATCH], remaining[BATCH:]
            try:
                ok = send(target, batch)
            except Exception as exc:  # the relay sends what is left in a later round
                log.warning("outbox.publish_failed", destination=destination, error=str(exc))
                return accepted
            accepted |= ok
            refused = {m.aggregate_id for m in batch if m.id not in ok}
            remaining = [m for m in remaining if m.aggregate_id not in refused]
        return accepted

    def _sns_batch(self, topic_arn: str, batch: Sequence[OutboxMessage]) -> set[str]:
        self._sns = self._sns or client("sns")
        response = self._sns.publish_batch(
            TopicArn=topic_arn,
            PublishBatchRequestEntries=[
                {
                    "Id": str(i),
                    "Message": m.body,
                    "MessageAttributes": {
                        "type": {"DataType": "String", "StringValue": m.event_type}
                    },
                }
                for i, m in enumerate(batch)
            ],
        )
        return {batch[int(ok["Id"])].id for ok in response.get("Successful", [])}

    def _events_batch(self, bus: str, batch: Sequence[OutboxMessage]) -> set[str]:
        self._events = self._events or client("events")
        response = self._events.put_events(
            Entries=[
                {
                    "EventBusName": bus,
                    "Source": _bus_source(m.payload),
                    "DetailType": m.event_type,
                    "Detail": m.body,
                }
                for m in batch
            ]
        )
        # PutEvents answers entry by entry, in request order; failed ones carry an ErrorCode.
        return {
            m.id
            for m, entry in zip(batch, response["Entries"], strict=True)
            if "ErrorCode" not in entry
        }

    def _sqs_batch(self, queue_url: str, batch: Sequence[OutboxMessage]) -> set[str]:
        self._sqs = self._sqs or client("sqs")
        response = self._sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": m.body,
                    "MessageGroupId": m.aggregate_id,
                    # The event id: a relay that publishes twice is deduplicated by SQS.
                    "MessageDeduplicationId": m.id,
                    "MessageAttributes": {
                        "type": {"DataType": "String", "StringValue": m.event_type}
                    },
                }
                for i, m in enumerate(batch)
            ],
        )
        return {batch[int(ok["Id"])].id for ok in response.get("Successful", [])}
