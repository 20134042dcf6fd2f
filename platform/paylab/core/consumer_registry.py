"""The registered consumers (queue, handler, body parser) and the process that runs them.

`paylab up` starts it as `python -m paylab.core.consumer` (see that module's end): one
thread per consumer, all in one process.
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import structlog

from paylab.core.consumer import (
    ConsumerSettings,
    Handler,
    Parser,
    QueueWorker,
    from_eventbridge,
)
from paylab.core.events import Envelope
from paylab.core.logging import configure_logging
from paylab.core.stack_outputs import output

log = structlog.get_logger("paylab.consumer")


@dataclass(frozen=True)
class Consumer:
    """A registered consumer: its queue's stack output, its handler's path, its body parser."""

    queue_output: str
    handler: str  # "package.module:function"
    parse: Parser = Envelope.model_validate_json


REGISTRY = {
    "notification": Consumer("NotificationOpsQueueUrl", "paylab.notification.consumers:handle"),
    "audit": Consumer("AuditOpsQueueUrl", "paylab.audit.consumers:handle"),
    # Fed by the WebhookFailed rule on the paylab bus: bodies are EventBridge events.
    "merchant": Consumer(
        "MerchantWebhooksQueueUrl",
        "paylab.merchant.consumers:handle_webhook_failed",
        parse=from_eventbridge,
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
            QueueWorker(output(consumer.queue_output), handler, name=name, parse=consumer.parse)
        )
    return workers


def main(argv: Sequence[str] | None = None) -> None:
    """Run one worker thread per named consumer (all when none is named) until SIGTERM/SIGINT."""
    configure_logging("consumers")
    names = list(argv if argv is not None else sys.argv[1:]) or list(REGISTRY)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threads = []
    for worker in build_workers(names):
        thread = threading.Thread(target=worker.run, args=(stop,), name=worker.name, daemon=True)
        thread.start()
        threads.append(thread)
    log.info("consumers.started", consumers=[t.name for t in threads])
    while not stop.is_set():
        stop.wait(1.0)
    for thread in threads:
        thread.join(timeout=ConsumerSettings().wait_seconds + 1.0)
    log.info("consumers.stopped")
