"""The webhook delivery loop sleeps until the next retry is due or it is woken, not on a clock."""

from __future__ import annotations

import threading
from typing import Any, cast

from paylab.merchant.delivery import Deliverer
from paylab.merchant.delivery_loop import DeliveryLoop


class FakeDeliverer:
    """Counts runs; the next delivery falls due `due` seconds after each run."""

    def __init__(self, due: float | None) -> None:
        self.due = due
        self.runs: list[threading.Event] = [threading.Event() for _ in range(3)]
        self.count = 0

    def run_once(self) -> int:
        if self.count < len(self.runs):
            self.runs[self.count].set()
        self.count += 1
        return 0

    def next_due_in(self) -> float | None:
        return self.due


def _loop(fake: FakeDeliverer) -> DeliveryLoop:
    # A 5-minute safety poll: any run sooner than that was scheduled by the due time or a wake.
    return DeliveryLoop(lambda: cast(Deliverer, cast(Any, fake)), poll_s=300.0, batch=10)


def test_the_loop_runs_again_when_the_next_retry_falls_due() -> None:
    fake = FakeDeliverer(due=0.2)
    loop = _loop(fake)
    loop.start()
    try:
        assert fake.runs[2].wait(10), fake.count
    finally:
        loop.stop()


def test_with_nothing_pending_the_loop_waits_for_a_wake() -> None:
    fake = FakeDeliverer(due=None)
    loop = _loop(fake)
    loop.start()
    try:
        assert fake.runs[0].wait(10)
        assert not fake.runs[1].wait(0.5), "ran again with nothing due and no wake"
        loop.wake()
        assert fake.runs[1].wait(10), fake.count
    finally:
        loop.stop()
