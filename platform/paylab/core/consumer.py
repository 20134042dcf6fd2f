"""SQS FIFO consumers: long polling, growing retries, and dead letters that say why.

A handler takes one `Envelope` and raises to fail (it is idempotent itself, see
`paylab.core.inbox`). A failed message stays in the queue and comes back after a visibility
timeout that doubles with each receive (2, 4, 8 ... s, capped); on its last allowed receive
(the queue's RedrivePolicy `maxReceiveCount`) the worker moves it to the DLQ itself, with
the error, the attempts and the source queue as message attributes, so `paylab dlq list`
can tell why. The RedrivePolicy stays as the backstop for a consumer that dies mid-message;
such a message reaches the DLQ without an error attribute ("unknown (consumer died)").

A body that is not an Envelope fails like a handler error (poison ends in the DLQ, then
parked). A failure blocks only its own MessageGroupId: the rest of that group waits behind
it (FIFO order), other groups keep flowing. A queue fed by an EventBridge rule gets every
message in the one group the rule names; its worker moves each to a group of its own (the
event's aggregate, `subject_id`) before handling it, so one failing event holds up no other.

    python -m paylab.core.consumer notification audit   # one thread per consumer, one process
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

import structlog
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from paylab.core.aws import client
from paylab.core.events import Envelope

log = structlog.get_logger("paylab.consumer", component="consumers")

Handler = Callable[[Envelope], None]
Parser = Callable[[str], Envelope]

# Message attributes the worker and the DLQ reprocessor agree on.
LAST_ERROR = "paylab-last-error"
ATTEMPTS = "paylab-attempts"
SOURCE_QUEUE = "paylab-source-queue"
REDRIVES = "paylab-redrives"
UNKNOWN_ERROR = "unknown (consumer died)"
MAX_ERROR_CHARS = 1000
_MAX_VISIBILITY = 43200  # SQS's limit: 12 hours
_GROUP_ID = re.compile(r"[!-~]{1,128}")  # what SQS takes as a MessageGroupId


class ConsumerSettings(BaseSettings):
    """PAYLAB_CONSUMER_* variables: how long to poll and how fast retries back off."""

    model_config = SettingsConfigDict(env_prefix="PAYLAB_CONSUMER_", extra="ignore")

    backoff_base_seconds: int = Field(default=2, ge=0, le=3600)
    backoff_max_seconds: int = Field(default=900, ge=0, le=_MAX_VISIBILITY)
    # Long polls end early enough for SIGTERM to stop a worker in a couple of seconds
    # (an abandoned poll could take a message with it for a whole visibility timeout).
    wait_seconds: int = Field(default=1, ge=0, le=20)
    max_messages: int = Field(default=10, ge=1, le=10)
    # After a poll that was neither empty nor full, let messages gather before the next one:
    # fewer ReceiveMessage and DeleteMessageBatch calls per message under load, for this lag.
    linger_ms: int = Field(default=500, ge=0, le=5000)


def retry_visibility(
    receive_count: int, max_receives: int | None, base: int, cap: int
) -> int | None:
    """Seconds until a failed message comes back, or None when it must go to the DLQ now."""
    if max_receives is not None and receive_count >= max_receives:
        return None
    return int(min(cap, base * 2 ** max(0, receive_count - 1), _MAX_VISIBILITY))


def describe(exc: BaseException) -> str:
    """`ExceptionClass: message`, truncated to what a message attribute should carry."""
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def _copy_attributes(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The message's attributes in the shape SendMessage takes."""
    copied: dict[str, dict[str, Any]] = {}
    for name, value in message.get("MessageAttributes", {}).items():
        kept = {k: value[k] for k in ("DataType", "StringValue", "BinaryValue") if k in value}
        copied[name] = kept
    return copied


class QueueWorker:
    """Polls one queue and hands each message's Envelope to `handler`."""

    def __init__(
        self,
        queue_url: str,
        handler: Handler,
        *,
        name: str,
        sqs: Any = None,
        settings: ConsumerSettings | None = None,
        parse: Parser = Envelope.model_validate_json,
        shared_group: str | None = None,
    ) -> None:
        self.queue_url, self.handler, self.name, self.parse = queue_url, handler, name, parse
        self.shared_group = shared_group  # moved to the aggregate's group, never handled there
        self.settings = settings or ConsumerSettings()
        self.fifo = queue_url.endswith(".fifo")
        self._sqs = sqs
        self._policy: tuple[str, str | None, int | None] | None = None

    @property
    def sqs(self) -> Any:
        self._sqs = self._sqs or client("sqs")
        return self._sqs

    def redrive_policy(self) -> tuple[str, str | None, int | None]:
        """(source queue ARN, DLQ URL, maxReceiveCount), read once from the queue."""
        if self._policy is None:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["QueueArn", "RedrivePolicy"]
            )["Attributes"]
            dlq_url, max_receives = None, None
            if "RedrivePolicy" in attributes:
                policy = json.loads(attributes["RedrivePolicy"])
                dlq_arn = str(policy["deadLetterTargetArn"])
                account, dlq_name = dlq_arn.split(":")[4], dlq_arn.split(":")[5]
                dlq_url = self.sqs.get_queue_url(
                    QueueName=dlq_name, QueueOwnerAWSAccountId=account
                )["QueueUrl"]
                max_receives = int(policy["maxReceiveCount"])
            self._policy = (str(attributes["QueueArn"]), dlq_url, max_receives)
        return self._policy

    def run_once(self) -> int:
        """One long poll and its messages; returns how many messages were received."""
        _, _, max_receives = self.redrive_policy()
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.settings.max_messages,
            WaitTimeSeconds=self.settings.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        done: list[dict[str, Any]] = []
        # group id -> (the failed message, its retry visibility): later ones wait behind it.
        blocked: dict[str, tuple[str, int]] = {}
        for message in messages:
            attributes = message.get("Attributes", {})
            group = attributes.get("MessageGroupId")
            count = int(attributes.get("ApproximateReceiveCount", "1"))
            if group is not None and group in blocked:
                self._wait_behind(message, count, max_receives, *blocked[group])
                continue
            if group is not None and group == self.shared_group:
                self._regroup(message, count, max_receives)
                continue
            try:
                envelope = self.parse(message["Body"])
                self.handler(envelope)
            except Exception as exc:  # the handler's failure is data: retry or dead-letter
                visibility = self._failed(message, count, max_receives, exc)
                if visibility is not None and group is not None and self.fifo:
                    blocked[group] = (message["MessageId"], visibility)
                continue
            done.append(message)
        self._delete(done)
        return len(messages)

    def _regroup(self, message: dict[str, Any], count: int, max_receives: int | None) -> None:
        """Send the message again in its aggregate's group, then delete the original.

        What can never be moved (a body that does not parse, a subject SQS refuses as a group
        id) goes to the DLQ at once rather than hold up the shared group through its retries.
        """
        try:
            group = self.parse(message["Body"]).subject_id
            if not _GROUP_ID.fullmatch(group) or group == self.shared_group:
                raise ValueError(f"subject_id {group[:140]!r} cannot be a MessageGroupId")
        except Exception as exc:
            self.dead_letter(message, describe(exc), count)
            return
        try:
            self.sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=message["Body"],
                MessageAttributes=_copy_attributes(message),
                MessageGroupId=group,
                # A crash between this send and the delete: the original comes back after
                # its visibility timeout (60 s) and is sent again with this id, which SQS
                # drops if it is within 5 minutes of the first send; later, a second copy
                # (the retry consumer then posts once more; merchants deduplicate).
                MessageDeduplicationId=message["MessageId"],
            )
        except Exception as exc:  # SQS refused or is down: the original stays and retries
            self._failed(message, count, max_receives, exc)
            return
        # At once, not with the batch: handlers after it in this batch may take a while.
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _failed(
        self, message: dict[str, Any], count: int, max_receives: int | None, exc: Exception
    ) -> int | None:
        error = describe(exc)
        visibility = retry_visibility(
            count,
            max_receives,
            self.settings.backoff_base_seconds,
            self.settings.backoff_max_seconds,
        )
        if visibility is None:
            log.warning("consumer.dead_letter", consumer=self.name, attempts=count, error=error)
            self.dead_letter(message, error, count)
            return None
        log.warning(
            "consumer.retry",
            consumer=self.name,
            message_id=message["MessageId"],
            attempts=count,
            retry_in=visibility,
            error=error,
        )
        self._change_visibility(message, visibility)
        return visibility

    def _wait_behind(
        self,
        message: dict[str, Any],
        count: int,
        max_receives: int | None,
        failed_id: str,
        visibility: int,
    ) -> None:
        if max_receives is not None and count >= max_receives:
            # One more receive and the RedrivePolicy would move it without a reason.
            reason = f"not attempted: message {failed_id} before it in its group kept failing"
            self.dead_letter(message, reason, count)
        else:
            self._change_visibility(message, visibility)

    def _change_visibility(self, message: dict[str, Any], seconds: int) -> None:
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=seconds,
            )
        except Exception as exc:  # the receipt expired: it is visible again anyway
            log.warning("consumer.visibility_failed", consumer=self.name, error=str(exc))

    def dead_letter(self, message: dict[str, Any], error: str, attempts: int) -> None:
        """Send the message to the DLQ with why, then delete it (send first: never lost)."""
        source_arn, dlq_url, _ = self.redrive_policy()
        if dlq_url is None:
            raise RuntimeError(f"{self.queue_url} has no dead-letter queue")
        attributes = _copy_attributes(message)
        attributes[LAST_ERROR] = {"DataType": "String", "StringValue": error or UNKNOWN_ERROR}
        attributes[ATTEMPTS] = {"DataType": "Number", "StringValue": str(attempts)}
        attributes[SOURCE_QUEUE] = {"DataType": "String", "StringValue": source_arn}
        request: dict[str, Any] = {
            "QueueUrl": dlq_url,
            "MessageBody": message["Body"],
            "MessageAttributes": attributes,
        }
        if self.fifo:
            request["MessageGroupId"] = message["Attributes"]["MessageGroupId"]
            # This SQS message id: moving the same delivery twice (a crash between send and
            # delete) is deduplicated; a later failure of a redriven copy has a new id.
            request["MessageDeduplicationId"] = message["MessageId"]
        self.sqs.send_message(**request)
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            batch = messages[start : start + 10]
            response = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
                ],
            )
            for failed in response.get("Failed", []):
                # Handled but not deleted: it comes back and the handler's inbox skips it.
                log.warning("consumer.delete_failed", consumer=self.name, error=failed)

    def run(self, stop: threading.Event, checkpoint: Callable[[], None] | None = None) -> None:
        """Poll until `stop` is set; survive AWS outages by backing off.

        `checkpoint` is called between polls and may block: that is how the worker process
        pauses its consumers without stopping them (see `paylab.core.worker`).
        """
        backoff = 0.0
        while not stop.is_set():
            if checkpoint is not None:
                checkpoint()
                if stop.is_set():
                    break
            try:
                received = self.run_once()
                backoff = 0.0
            except Exception as exc:  # LocalStack restarting, throttling: never die
                backoff = min(30.0, max(0.5, backoff * 2))
                log.warning("consumer.poll_failed", consumer=self.name, error=str(exc))
                stop.wait(backoff)
                continue
            if 0 < received < self.settings.max_messages and self.settings.linger_ms:
                stop.wait(self.settings.linger_ms / 1000)


if __name__ == "__main__":
    # `python -m paylab.core.consumer [NAME ...]`: consumers alone (`up` runs paylab.core.worker).
    from paylab.core.consumer_registry import main

    main()
