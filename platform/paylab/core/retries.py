"""Calls to another HTTP service that may be retried: which failures count, and how often.

One rule for the partners (payment), the SMS provider (notification) and the internal
services and bank payouts (merchant): a transport error or a `Transient` answer (5xx, 429,
an answer that cannot be read) is tried again after an exponential backoff capped at 2 s;
anything else ends the call at once. When the attempts run out, the caller's own
"unavailable" error is raised from the last failure, so callers map one exception.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity import wait_exponential as backoff

T = TypeVar("T")
MAX_BACKOFF_S = 2.0


class Transient(Exception):
    """Worth another attempt: no usable answer, 5xx, 429, or a status the caller treats so."""


def with_retries(
    once: Callable[[int], T],
    *,
    attempts: int,
    backoff_s: float,
    unavailable: Callable[[BaseException], Exception],
) -> T:
    """`once(attempt_number)` until it returns; transport errors and Transient are retried.

    After the last attempt `unavailable(last_error)` is raised from that error. Any other
    exception from `once` (a refusal) is raised as it is, without another attempt.
    """
    retrying = Retrying(
        stop=stop_after_attempt(max(1, attempts)),
        wait=backoff(multiplier=backoff_s, max=MAX_BACKOFF_S),
        retry=retry_if_exception_type((httpx.TransportError, Transient)),
        reraise=False,
    )
    try:
        for attempt in retrying:
            with attempt:
                return once(attempt.retry_state.attempt_number)
    except RetryError as exc:
        cause = exc.last_attempt.exception() or Transient("no attempt succeeded")
        raise unavailable(cause) from cause
    raise AssertionError("unreachable")  # pragma: no cover: Retrying returns or raises


def json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    """The answer's JSON object, whatever its status; 5xx, 429 and unreadable are Transient."""
    if response.status_code >= 500 or response.status_code == 429:
        raise Transient(f"{what} answered {response.status_code}")
    try:
        parsed = response.json()
    except ValueError as exc:
        raise Transient(f"{what}: the answer ({response.status_code}) is not JSON") from exc
    if not isinstance(parsed, dict):
        raise Transient(f"{what}: the answer ({response.status_code}) is not a JSON object")
    return parsed
