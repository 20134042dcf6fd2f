"""Between notifications the relay rounds rarely, unless its last round left rows behind."""

from __future__ import annotations

import threading
from typing import Any

from paylab.core.relay_loop import _publish


class RecordingWake(threading.Event):
    """A wake-up that never comes: records how long each wait would have been."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return False


class ScriptedRelay:
    """Rounds that publish nothing; `left` says whether each left rows behind."""

    schema, batch_size = "wallet", 400

    def __init__(self, left: list[bool], stop: threading.Event) -> None:
        self.script, self.stop, self.left_behind = iter(left), stop, False

    def run_once(self) -> int:
        step = next(self.script, None)
        if step is None:
            self.stop.set()
        self.left_behind = bool(step)
        return 0


def _waits(left: list[bool]) -> list[float | None]:
    stop, wake = threading.Event(), RecordingWake()
    relay: Any = ScriptedRelay(left, stop)
    _publish(relay, wake, stop, (1.0, 30.0), 0.0)
    return wake.waits[: len(left)]


def test_quiet_rounds_wait_long_and_failed_ones_retry_soon() -> None:
    assert _waits([False, True, True, False]) == [30.0, 1.0, 1.0, 30.0]
