"""The consumer lingers after a partial poll, so messages under load share calls."""

from __future__ import annotations

import threading

import pytest
from messaging_fakes import SOURCE_URL, FakeSqs

from paylab.core.consumer import ConsumerSettings, QueueWorker


class RecordingStop(threading.Event):
    """A stop event whose waits return at once and are recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return self.is_set()


def _run(polls: list[int | Exception], linger_ms: int) -> list[float | None]:
    """Run the worker over scripted polls (received counts or errors); the waits it made."""
    settings = ConsumerSettings(wait_seconds=0, linger_ms=linger_ms)
    worker = QueueWorker(SOURCE_URL, lambda e: None, name="test", sqs=FakeSqs(), settings=settings)
    stop = RecordingStop()
    script = iter(polls)

    def run_once() -> int:
        step = next(script, None)
        if step is None:
            stop.set()
            return 0
        if isinstance(step, Exception):
            raise step
        return step

    worker.run_once = run_once  # type: ignore[method-assign]
    worker.run(stop)
    return stop.waits


def test_a_partial_poll_lingers_an_empty_or_full_one_does_not() -> None:
    assert _run([0, 10, 3, 0, 1], linger_ms=500) == [0.5, 0.5]


def test_linger_zero_polls_straight_away() -> None:
    assert _run([1, 2, 9], linger_ms=0) == []


def test_a_failed_poll_backs_off_without_lingering() -> None:
    assert _run([RuntimeError("down"), 1], linger_ms=500) == [0.5, 0.5]


@pytest.mark.parametrize("value", [-1, 5001])
def test_linger_is_bounded(value: int) -> None:
    with pytest.raises(ValueError, match="linger_ms"):
        ConsumerSettings(linger_ms=value)
