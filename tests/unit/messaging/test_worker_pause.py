"""The worker process pauses its consumers between polls, and says when all are parked."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from messaging_fakes import SOURCE_URL, FakeSqs

from paylab.core.consumer import ConsumerSettings, QueueWorker
from paylab.core.worker import ConsumerSwitch, _show, paused_marker


def _eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll `condition` until true; fail at the deadline (threads need a moment to park)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class Poller:
    """A consumer thread's loop: checkpoint, then count one poll."""

    def __init__(self, switch: ConsumerSwitch, stop: threading.Event) -> None:
        self.polls = 0
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, args=(switch, stop), daemon=True)

    def _run(self, switch: ConsumerSwitch, stop: threading.Event) -> None:
        while not stop.is_set():
            switch.checkpoint()
            with self._lock:
                self.polls += 1
            stop.wait(0.001)

    def count(self) -> int:
        with self._lock:
            return self.polls


@pytest.fixture
def running() -> Iterator[tuple[ConsumerSwitch, threading.Event, list[Poller]]]:
    stop = threading.Event()
    switch = ConsumerSwitch(stop)
    pollers = [Poller(switch, stop) for _ in range(3)]
    for poller in pollers:
        poller.thread.start()
    yield switch, stop, pollers
    stop.set()
    for poller in pollers:
        poller.thread.join(timeout=5)


def test_paused_consumers_stop_polling_until_resumed(
    running: tuple[ConsumerSwitch, threading.Event, list[Poller]],
) -> None:
    switch, _, pollers = running
    _eventually(lambda: all(p.count() > 0 for p in pollers))
    switch.pause()
    _eventually(lambda: switch.parked() == 3)
    frozen = [p.count() for p in pollers]
    assert [p.count() for p in pollers] == frozen  # parked: none of them can poll
    switch.resume()
    _eventually(lambda: all(p.count() > n for p, n in zip(pollers, frozen, strict=True)))
    assert switch.parked() == 0


def test_stop_releases_paused_consumers(
    running: tuple[ConsumerSwitch, threading.Event, list[Poller]],
) -> None:
    switch, stop, pollers = running
    switch.pause()
    _eventually(lambda: switch.parked() == 3)
    stop.set()
    for poller in pollers:
        poller.thread.join(timeout=5)
        assert not poller.thread.is_alive()


def test_the_marker_exists_only_while_every_consumer_is_parked(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    marker = paused_marker(tmp_path)
    switch = ConsumerSwitch(threading.Event())
    parked = threading.Thread(target=switch.checkpoint, daemon=True)
    switch.pause()
    assert _show(marker, switch, consumers=1, shown=False) is False  # asked, not yet parked
    assert not marker.exists()
    parked.start()
    _eventually(lambda: switch.parked() == 1)
    assert _show(marker, switch, consumers=1, shown=False) is True
    assert marker.exists()
    switch.resume()
    parked.join(timeout=5)
    assert _show(marker, switch, consumers=1, shown=True) is False
    assert not marker.exists()


def test_a_queue_worker_passes_the_checkpoint_before_every_poll() -> None:
    stop = threading.Event()
    settings = ConsumerSettings(wait_seconds=0, linger_ms=0)
    worker = QueueWorker(SOURCE_URL, lambda e: None, name="t", sqs=FakeSqs(), settings=settings)
    events: list[str] = []

    def run_once() -> int:
        events.append("poll")
        return 0

    def checkpoint() -> None:
        events.append("checkpoint")
        if events.count("checkpoint") == 3:
            stop.set()  # as if stopped while parked: no poll follows

    worker.run_once = run_once  # type: ignore[method-assign]
    worker.run(stop, checkpoint)
    assert events == ["checkpoint", "poll", "checkpoint", "poll", "checkpoint"]
