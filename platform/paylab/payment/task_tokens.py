"""A SAGA task token is stored only by a request its step's Lambda still waits for.

AwaitReview and AwaitPseConfirmation hand the payment service a `.waitForTaskToken` token.
Their Lambda gives up on the call after 10 s (lambdas/_services.py), and Step Functions then
retries the step with a new token. A request still running must not store its token after
the retry stored the new one: the SAGA would wait on a token nobody answers (an operator's
approval, a PSE confirmation lost). So a token is stored only within `TOKEN_BUDGET_S` of when
the Lambda sent it (`sent_at_ms`): any later request was given up on, and a retry can only
have started after that, so the live token is always stored last. A late request is refused
with a 503.
"""

from __future__ import annotations

import time

from paylab.core.problems import Problem

#: Seconds after the Lambda sent the request within which its token may be stored: well
#: inside the Lambda's 10 s call, the rest being the margin for the commit and the answer.
TOKEN_BUDGET_S = 7.0


def seconds(sent_at_ms: int | None) -> float | None:
    """The request's `sent_at_ms` (Unix milliseconds) in seconds."""
    return None if sent_at_ms is None else sent_at_ms / 1000


def require_fresh(sent_at: float | None, received_at: float, now: float | None = None) -> None:
    """Problem 503 when the step's Lambda has given this request up (or is about to).

    Counted from the earlier of the Lambda's `sent_at` (its clock) and our receipt: a request
    that waited in a queue, or a sender whose clock runs ahead, never gets a longer budget.
    """
    start = received_at if sent_at is None else min(sent_at, received_at)
    elapsed = (time.time() if now is None else now) - start
    if elapsed > TOKEN_BUDGET_S:
        raise Problem(
            503,
            "saga-step-too-slow",
            f"The request took {elapsed:.1f} s; its SAGA step has given it up and retries with "
            "a new task token.",
        )
