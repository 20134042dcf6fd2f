"""The registered consumers (queue, handler, body parser) and the process that runs them.

`paylab up` runs them in the worker process (`paylab.core.worker`), next to the outbox
relay; `python -m paylab.core.consumer [NAME ...]` runs them alone. One thread per consumer.
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import structlog

from paylab.core.consumer import (
    ConsumerSettings,
    Handler,
    Parser,
    QueueWorker,
)
from paylab.core.events import Envelope, from_eventbridge
from paylab.core.logging import configure_logging
from paylab.core.stack_outputs import output

log = structlog.get_logger("paylab.consumer", component="consumers")


@dataclass(frozen=True)
class Consumer:
    """A registered consumer: its queue's stack output, its handler's path, its body parser."""

    queue_output: str
    handler: str  # "package.module:function"
    parse: Parser = Envelope.model_validate_json
    # The MessageGroupId an EventBridge rule's SQS target gives every message (it takes one
    # fixed id); the worker moves each message to its own aggregate's group.
    shared_group: str | None = None


REGISTRY = {
    "notification": Consumer("NotificationOpsQueueUrl", "paylab.notification.consumers:handle"),
    "audit": Consumer("AuditOpsQueueUrl", "paylab.audit.consumers:handle"),
    # The payment outcomes the merchant service confirms (payment's outbox).
    "merchant-ops": Consumer("MerchantOpsQueueUrl", "paylab.merchant.consumers:handle"),
    # Fed by the WebhookFailed rule on the paylab bus: bodies are EventBridge events.
    "merchant": Consumer(
        "MerchantWebhooksQueueUrl",
        "paylab.merchant.consumers:handle_webhook_failed",
        parse=from_eventbridge,
        shared_group="webhook-failed",  # template.yaml, WebhookFailedRule's SqsParameters
    ),
}


def load_handler(path: str) -> Handler | None:
    """The handler at `module:function`, or None when its module does not exist (yet)."""
    module_name, _, function = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            return None
        raise  # the module exists but one of its own imports is missing: a real error
    return cast(Handler, getattr(module, function))


def build_workers(names: Sequence[str]) -> list[QueueWorker]:
    """Workers for the named consumers that exist; one log line for each skipped one."""
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise SystemExit(f"unknown consumer(s) {unknown}; choose from {sorted(REGISTRY)}")
    workers = []
    for name in names:
        consumer = REGISTRY[name]
        handler = load_handler(consumer.handler)
        if handler is None:
            log.info("consumer.skipped", consumer=name, reason=f"no module for {consumer.handler}")
            continue
        workers.append(
            QueueWorker(
                output(consumer.queue_output),
                handler,
                name=name,
                parse=consumer.parse,
                shared_group=consumer.shared_group,
            )
        )
    return workers


def start_consumers(
    names: Sequence[str], stop: threading.Event, checkpoint: Callable[[], None] | None = None
) -> list[threading.Thread]:
    """Start one daemon thread per named consumer that exists; they poll until `stop`."""
    threads = []
    for worker in build_workers(names):
        thread = threading.Thread(
            target=_tagged, args=(worker, stop, checkpoint), name=worker.name, daemon=True
        )
        thread.start()
        threads.append(thread)
    log.info("consumers.started", consumers=[t.name for t in threads])
    return threads


def _tagged(
    worker: QueueWorker, stop: threading.Event, checkpoint: Callable[[], None] | None
) -> None:
    # A thread starts with empty context variables: tag what its handlers log.
    structlog.contextvars.bind_contextvars(service="consumers", consumer=worker.name)
    worker.run(stop, checkpoint)


def join_consumers(threads: Sequence[threading.Thread]) -> None:
    """Wait for stopped consumer threads to finish their poll in flight."""
    for thread in threads:
        thread.join(timeout=ConsumerSettings().wait_seconds + 1.0)
    log.info("consumers.stopped")


def main(argv: Sequence[str] | None = None) -> None:
    """Run one worker thread per named consumer (all when none is named) until SIGTERM/SIGINT.

    `paylab up` runs the consumers in `paylab.core.worker` next to the outbox relay; this
    entrypoint runs them alone (one service's consumer per task on AWS, or a named subset).
    """
    configure_logging("consumers")
    names = list(argv if argv is not None else sys.argv[1:]) or list(REGISTRY)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threads = start_consumers(names, stop)
    while not stop.is_set():
        stop.wait(1.0)
    join_consumers(threads)
