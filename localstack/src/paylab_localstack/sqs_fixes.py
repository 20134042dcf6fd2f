"""Fixes for LocalStack SQS behaviour that differs from AWS in ways Paylab relies on."""

import logging
from collections.abc import Callable
from typing import Any

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)

_DLQ_SOURCE_ARN = "DeadLetterQueueSourceArn"


def fifo_dead_letters_take_their_message_id_as_deduplication_id() -> None:
    """Give a message moved into a FIFO DLQ its message id as deduplication id, as AWS does.

    LocalStack 2026.3.0 keeps the original MessageDeduplicationId, both into the DLQ and when
    StartMessageMoveTask sends the message back: the source queue still remembers that id for its
    5-minute deduplication window and silently drops the redriven message. The provider marks a
    dead-lettered message with DeadLetterQueueSourceArn (the source's ARN) right before putting
    it into the DLQ, so a put carrying that mark into any other queue is a dead-lettering (or a
    move to an explicit destination, where the id already is the message id). A move back into
    the source keeps the id it had in the DLQ: the message id, which the source has never seen.
    """
    from localstack.services.sqs.models import FifoQueue
    from localstack.utils.patch import patch

    @patch(FifoQueue.put)
    def put(
        fn: Callable[..., Any], self: FifoQueue, message: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        source_arn = (message.get("Attributes") or {}).get(_DLQ_SOURCE_ARN)
        if source_arn and source_arn != self.arn and "message_deduplication_id" in kwargs:
            kwargs["message_deduplication_id"] = message["MessageId"]
        return fn(self, message, *args, **kwargs)


# How often a FIFO queue's put looks for deduplication entries past their window.
DEDUPLICATION_SWEEP_SECONDS = 10.0


def expire_deduplication(queue: Any, now: float) -> int:
    """Forget `queue`'s deduplication entries older than SQS's window; how many went.

    A FIFO queue deduplicates within 5 minutes (AWS). LocalStack 2026.3.0 keeps the last message
    sent under every deduplication id in `FifoQueue.deduplication` for good, body and all:
    ~9 messages a payment that stayed in memory after they were deleted (a gc census of
    LocalStack over 431 payments counted 3,879 more SqsMessage objects). An entry past the
    window no longer deduplicates anything (`put` compares its time first), so dropping it
    changes no answer.
    """
    from localstack.services.sqs import constants

    cutoff = now - constants.DEDUPLICATION_INTERVAL_IN_SEC
    expired = [k for k, m in list(queue.deduplication.items()) if m.priority < cutoff]
    for key in expired:
        queue.deduplication.pop(key, None)
    return len(expired)


def fifo_deduplication_entries_expire() -> None:
    """Sweep each FIFO queue's expired deduplication entries from its puts, now and then."""
    import time

    from localstack.services.sqs.models import FifoQueue
    from localstack.utils.patch import patch

    @patch(FifoQueue.put)
    def put(fn: Callable[..., Any], self: FifoQueue, *args: Any, **kwargs: Any) -> Any:
        now = time.time()
        if now - getattr(self, "_paylab_dedup_swept", 0.0) > DEDUPLICATION_SWEEP_SECONDS:
            self._paylab_dedup_swept = now
            expire_deduplication(self, now)
        return fn(self, *args, **kwargs)


@hooks.on_infra_start(priority=100)
def paylab_sqs_fixes() -> None:
    """Apply Paylab's SQS conformance fixes."""
    fifo_dead_letters_take_their_message_id_as_deduplication_id()
    fifo_deduplication_entries_expire()
    LOG.debug("paylab SQS fixes applied")
