"""The worker process: the outbox relay and every SQS consumer, as threads of one process.

    python -m paylab.core.worker      # what `paylab up` starts as `workers`

One Python process with boto3, SQLAlchemy and the handlers loaded costs ~95 MiB RSS; the
relay and the consumers used to pay it twice. SIGTERM or SIGINT stops both. SIGUSR1 pauses
the consumers only: each finishes the poll in flight, then waits, while the relay keeps
publishing (the lab's "the consumers are down"); SIGUSR2 resumes them. Once every consumer
is parked the process writes `paused_marker()`, and removes it when they run again, so a
test knows when a pause has taken effect.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import structlog

from paylab.core.consumer_registry import REGISTRY, join_consumers, start_consumers
from paylab.core.logging import configure_logging
from paylab.core.outbox_relay import start_relay
from paylab.core.settings import get_settings

log = structlog.get_logger(component="workers")

PAUSE, RESUME = signal.SIGUSR1, signal.SIGUSR2


def paused_marker(state_dir: Path) -> Path:
    """The file that exists while the worker's consumers are all paused."""
    return state_dir / "run" / "consumers.paused"


class ConsumerSwitch:
    """Pauses and resumes consumer threads between polls; counts the parked ones."""

    def __init__(self, stop: threading.Event) -> None:
        # Reentrant: a signal handler may run on the main thread while it holds the lock.
        self._changed = threading.Condition(threading.RLock())
        self._stop = stop
        self._paused = False
        self._parked = 0

    def pause(self) -> None:
        """Ask every consumer to stop polling after its current poll."""
        with self._changed:
            self._paused = True

    def resume(self) -> None:
        """Let the parked consumers poll again."""
        with self._changed:
            self._paused = False
            self._changed.notify_all()

    def parked(self) -> int:
        """How many consumer threads are waiting in `checkpoint` now."""
        with self._changed:
            return self._parked

    @property
    def paused(self) -> bool:
        """True between `pause` and `resume`."""
        with self._changed:
            return self._paused

    def checkpoint(self) -> None:
        """Called by a consumer between polls: blocks while paused (until resumed or stopped)."""
        with self._changed:
            if not self._paused:
                return
            self._parked += 1
            try:
                while self._paused and not self._stop.is_set():
                    # A timeout, because `stop` is an Event this condition is not told about.
                    self._changed.wait(0.5)
            finally:
                self._parked -= 1


def _show(marker: Path, switch: ConsumerSwitch, consumers: int, shown: bool) -> bool:
    """Create or remove the marker to match the consumers; returns whether it exists now."""
    parked = switch.paused and switch.parked() >= consumers
    if parked and not shown:
        marker.write_text("paused\n")
        log.info("consumers.paused", consumers=consumers)
    elif not parked and shown:
        marker.unlink(missing_ok=True)
        log.info("consumers.resumed", consumers=consumers)
    return parked


def main() -> None:
    """Relay and consume until SIGTERM/SIGINT; SIGUSR1/SIGUSR2 pause/resume the consumers."""
    configure_logging("workers")
    stop = threading.Event()
    switch = ConsumerSwitch(stop)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(PAUSE, lambda *_: switch.pause())
    signal.signal(RESUME, lambda *_: switch.resume())
    marker = paused_marker(get_settings().state_dir)
    marker.unlink(missing_ok=True)  # left by a worker that died paused
    relay = start_relay(stop)
    consumers = start_consumers(list(REGISTRY), stop, switch.checkpoint)
    shown = False
    while not stop.is_set():
        stop.wait(0.2)
        shown = _show(marker, switch, len(consumers), shown)
    marker.unlink(missing_ok=True)
    join_consumers(consumers)
    relay.join(timeout=10)


if __name__ == "__main__":
    main()
