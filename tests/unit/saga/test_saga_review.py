"""The SAGA's antifraud review: hold after the reserve, wait for a token, compensate on no."""

from __future__ import annotations

import json
from typing import Any

import pytest

from paylab.infra.artifacts import WORKFLOWS
from paylab.infra.template import load_template
from paylab.payment.review import REJECTED_ERROR

ASL = WORKFLOWS / "payment_saga.asl.json"


@pytest.fixture(scope="module")
def states() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(ASL.read_text())["States"]
    return loaded


def _path(states: dict[str, Any], start: str) -> list[str]:
    """The path from `start` to the end by Next, or a Choice's Default, state by state."""
    path = [start]
    while "Next" in states[path[-1]] or "Default" in states[path[-1]]:
        path.append(states[path[-1]].get("Next") or states[path[-1]]["Default"])
    return path


def _catch(state: dict[str, Any], error: str) -> dict[str, Any]:
    return next(c for c in state["Catch"] if c["ErrorEquals"] == [error])


def test_review_comes_after_the_reserve_and_only_for_reviewed_payments(
    states: dict[str, Any],
) -> None:
    assert states["ReserveFunds"]["Next"] == "ChooseReview"
    choose = states["ChooseReview"]
    assert choose["Default"] == "ChooseProcessing"
    (rule,) = choose["Choices"]
    assert rule["Next"] == "AwaitReview"
    # Executions started before this state existed have no $.review: they must not fail.
    assert {"Variable": "$.review", "IsPresent": True} in rule["And"]


def test_the_wait_is_a_task_token_bounded_by_the_review_timeout(states: dict[str, Any]) -> None:
    wait = states["AwaitReview"]
    assert wait["Resource"].endswith(".waitForTaskToken")
    assert wait["Parameters"]["FunctionName"] == "${AwaitReviewArn}"
    assert wait["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    assert wait["TimeoutSecondsPath"] == "$.review_timeout_seconds"
    machine = load_template()["Resources"]["PaymentSaga"]["Properties"]
    assert "AwaitReviewArn" in machine["DefinitionSubstitutions"]


def test_approval_goes_on_to_processing(states: dict[str, Any]) -> None:
    assert states["AwaitReview"]["Next"] == "CheckReview"
    (rule,) = states["CheckReview"]["Choices"]
    assert (rule["Variable"], rule["StringEquals"], rule["Next"]) == (
        "$.review_result.decision",
        "approve",
        "ChooseProcessing",
    )
    assert states["CheckReview"]["Default"] == "ReviewRejected"


@pytest.mark.parametrize(
    ("error", "reason"), [(REJECTED_ERROR, "review-rejected"), ("States.Timeout", "review-timeout")]
)
def test_rejection_and_timeout_release_the_funds_and_end_rejected(
    states: dict[str, Any], error: str, reason: str
) -> None:
    first = _catch(states["AwaitReview"], error)["Next"]
    path = _path(states, first)
    assert states[first]["Result"] == {"outcome": "rejected", "reason": reason}
    assert states[first]["ResultPath"] == "$.process"  # Notify takes its reason from here
    assert path[1:] == ["MarkRejected", "ReleaseFunds", "Notify"]
    assert states["MarkRejected"]["Result"] == "rejected"


def test_any_other_failure_of_the_wait_compensates(states: dict[str, Any]) -> None:
    other = _catch(states["AwaitReview"], "States.ALL")["Next"]
    # (a card payment reverses at the bank first: test_saga_definition)
    assert _path(states, other) == ["MarkFailed", "ChooseReversal", "ReleaseFunds", "Notify"]


def test_the_review_lambda_is_deployed_and_allowed(states: dict[str, Any]) -> None:
    resources = load_template()["Resources"]
    function = resources["AwaitReviewFunction"]["Properties"]
    assert function["Handler"] == "paylab.lambdas.await_review.handler"
    allowed = resources["PaymentSagaRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    resources_allowed = allowed["Statement"][0]["Resource"]
    assert {"Fn::GetAtt": ["AwaitReviewFunction", "Arn"]} in resources_allowed
