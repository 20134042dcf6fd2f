"""Waiting for the running stack: poll with a deadline and back off, never sleep blindly."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class TimedOut(AssertionError):
    """A wait's deadline passed; the message says what was awaited and what was last seen."""


def wait_for(what: str, probe: Callable[[], T | None], *, timeout: float, first: float = 0.1) -> T:
    """Call `probe` until it returns something, backing off from `first` to 1 s."""
    deadline = time.monotonic() + timeout
    delay = first
    while True:
        got = probe()
        if got is not None:
            return got
        if time.monotonic() >= deadline:
            raise TimedOut(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(min(delay, max(deadline - time.monotonic(), 0.01)))
        delay = min(delay * 1.5, 1.0)
