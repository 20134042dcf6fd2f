"""A task token is stored only while the SAGA step's Lambda still waits for the request."""

from __future__ import annotations

import pytest

from paylab.core.problems import Problem
from paylab.payment.task_tokens import TOKEN_BUDGET_S, require_fresh

NOW = 1_800_000_000.0


def test_a_request_within_the_budget_may_store_its_token() -> None:
    require_fresh(NOW - TOKEN_BUDGET_S + 0.5, NOW - 0.1, now=NOW)
    require_fresh(None, NOW - TOKEN_BUDGET_S + 0.5, now=NOW)


def test_a_request_the_lambda_has_given_up_is_refused_with_a_503() -> None:
    with pytest.raises(Problem) as refused:
        require_fresh(NOW - TOKEN_BUDGET_S - 0.5, NOW - 0.2, now=NOW)
    assert (refused.value.status, refused.value.slug) == (503, "saga-step-too-slow")


def test_time_in_a_queue_counts_and_a_sender_clock_ahead_does_not_help() -> None:
    # Sent 8 s ago, received 1 s ago: the Lambda has given up whatever our receipt says.
    with pytest.raises(Problem):
        require_fresh(NOW - 8.0, NOW - 1.0, now=NOW)
    # A sender clock 5 s ahead: its sent_at looks recent, our receipt 8 s ago decides.
    with pytest.raises(Problem):
        require_fresh(NOW + 4.0, NOW - 8.0, now=NOW)
