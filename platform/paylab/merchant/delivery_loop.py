"""The webhook delivery loop: a daemon thread in the merchant service that runs a Deliverer.

`paylab.merchant.delivery` has what a round does (claim, POST, record).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import structlog

from paylab.core.pg_listen import listen
from paylab.merchant.delivery import WEBHOOK_CHANNEL, Deliverer

log = structlog.get_logger("paylab.merchant.delivery")


class DeliveryLoop:
    """Runs a Deliverer in a daemon thread: at once when woken, else when the next retry is
    due, and at least every `poll_s`.

    Woken in process (`wake`), and, with `listener` (a new autocommit connection each call),
    by a NOTIFY on WEBHOOK_CHANNEL: the queue consumers record deliveries in the workers
    process. Sleeping until the next due retry rather than polling every second lets the
    pooled Postgres session idle out at rest (devstack/database.py: one backend less); the
    LISTEN session is the one that stays.
    """

    def __init__(
        self,
        deliverer: Callable[[], Deliverer],
        poll_s: float,
        batch: int,
        listener: Callable[[], Any] | None = None,
    ) -> None:
        self.deliverer, self.poll_s, self.batch = deliverer, poll_s, batch
        self.listener = listener
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listening: threading.Thread | None = None

    def wake(self) -> None:
        """Something became due (a new delivery was recorded)."""
        self._wake.set()

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="webhook-delivery", daemon=True)
            self._thread.start()
        if self.listener is not None and self._listening is None:
            self._listening = threading.Thread(
                target=listen,
                args=(self.listener, {WEBHOOK_CHANNEL: self._wake}, self._stop),
                name="webhook-listen",
                daemon=True,
            )
            self._listening.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the attempt in flight and stop."""
        self._stop.set()
        self._wake.set()
        for thread in (self._thread, self._listening):
            if thread is not None:
                thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.poll_s
            try:
                deliverer = self.deliverer()
                if deliverer.run_once() >= self.batch:
                    continue  # a full batch: more may be due now
                due = deliverer.next_due_in()
                wait = self.poll_s if due is None else min(self.poll_s, due)
            except Exception as exc:  # a database or stack outage: log, wait, try again
                log.warning("webhook.loop_error", error=repr(exc))
            self._wake.wait(wait)
            self._wake.clear()
