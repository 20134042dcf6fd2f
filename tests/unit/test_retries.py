"""paylab.core.retries: what is tried again, how often, and what the caller finally sees."""

from __future__ import annotations

import httpx
import pytest

from paylab.core.retries import Transient, json_object, with_retries


class Down(Exception):
    """The caller's own "unavailable" error."""


class Refusal(Exception):
    """A 4xx-like failure the caller does not retry."""


def run(failures: list[Exception], attempts: int = 3) -> tuple[str, list[int]]:
    """Calls `with_retries` on a `once` that raises `failures` in turn, then answers."""
    seen: list[int] = []

    def once(attempt: int) -> str:
        seen.append(attempt)
        if failures:
            raise failures.pop(0)
        return "answer"

    return with_retries(once, attempts=attempts, backoff_s=0, unavailable=Down), seen


def test_transient_failures_and_transport_errors_are_tried_again() -> None:
    answer, seen = run([Transient("503"), httpx.ConnectError("refused")])
    assert (answer, seen) == ("answer", [1, 2, 3])


def test_a_refusal_ends_the_call_at_once() -> None:
    with pytest.raises(Refusal):
        run([Refusal("409"), Transient("503")])


def test_the_last_failure_becomes_the_callers_unavailable_error() -> None:
    last = httpx.ReadTimeout("read timed out")
    with pytest.raises(Down, match="read timed out") as raised:
        run([Transient("503"), last, Transient("never reached")], attempts=2)
    assert raised.value.__cause__ is last


def test_zero_attempts_still_makes_one() -> None:
    with pytest.raises(Down):
        run([Transient("503")], attempts=0)


def answer(status: int, content: bytes) -> httpx.Response:
    return httpx.Response(status, content=content, headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    ("status", "content", "message"),
    [
        (500, b'{"detail": "boom"}', "bank answered 500"),
        (429, b"{}", "bank answered 429"),
        (200, b'{"id": ', r"bank: the answer \(200\) is not JSON"),
        (402, b"[1, 2]", r"bank: the answer \(402\) is not a JSON object"),
    ],
)
def test_json_object_calls_unusable_answers_transient(
    status: int, content: bytes, message: str
) -> None:
    with pytest.raises(Transient, match=message):
        json_object(answer(status, content), "bank")


@pytest.mark.parametrize("status", [200, 404, 422])
def test_json_object_returns_the_object_whatever_the_status(status: int) -> None:
    assert json_object(answer(status, b'{"status": "ok"}'), "bank") == {"status": "ok"}
