"""The payment SAGA's definition: every path ends, every failure after the hold compensates."""

from __future__ import annotations

import ast
import json
import re
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from paylab.infra.artifacts import WORKFLOWS, lambda_zip, vendored_files
from paylab.infra.template import load_template

ASL = WORKFLOWS / "payment_saga.asl.json"
LAMBDAS = Path(__file__).resolve().parents[3] / "platform" / "paylab" / "lambdas"


@pytest.fixture(scope="module")
def states() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(ASL.read_text())["States"]
    return loaded


def _targets(state: dict[str, Any]) -> list[str]:
    found = [state["Next"]] if "Next" in state else []
    found += [c["Next"] for c in state.get("Catch", [])]
    found += [c["Next"] for c in state.get("Choices", [])]
    found += [state["Default"]] if "Default" in state else []
    return found


def _waits_then_tries_again(states: dict[str, Any], name: str) -> str:
    """`name` retries transient errors, then waits and runs again on those; anything else
    (a refusal, a broken Lambda) goes elsewhere, returned. A compensation lists what it
    waits on; CaptureFunds (the payer charged) waits on all but the wallet's refusal."""
    state = states[name]
    retried = state["Retry"][0]["ErrorEquals"]
    assert "Refused" not in retried and "States.ALL" not in retried, name
    [waiting] = [c for c in state["Catch"] if states[c["Next"]]["Type"] == "Wait"]
    [other] = [c for c in state["Catch"] if c is not waiting]
    later = states[waiting["Next"]]
    assert later["Seconds"] >= 30 and later["Next"] == name, name
    if name == "CaptureFunds":
        assert state["Catch"] == [other, waiting]  # the refusal is caught first
        assert (other["ErrorEquals"], waiting["ErrorEquals"]) == (["Refused"], ["States.ALL"])
    else:
        assert state["Catch"] == [waiting, other]  # States.ALL last: the rest stops
        assert set(retried) <= set(waiting["ErrorEquals"]), name
        assert other["ErrorEquals"] == ["States.ALL"]
    return str(other["Next"])


def test_every_transition_leads_to_a_state(states: dict[str, Any]) -> None:
    for name, state in states.items():
        for target in _targets(state):
            assert target in states, f"{name} -> {target}"


def test_every_state_is_reachable(states: dict[str, Any]) -> None:
    seen, todo = set(), ["Prepare"]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += _targets(states[name])
    assert seen == set(states)


def test_failures_after_the_hold_release_it(states: dict[str, Any]) -> None:
    """From every task after ReserveFunds, each Catch path passes through ReleaseFunds."""

    def reaches_release(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name == "ReleaseFunds":
            return True
        if name in seen:
            return True  # a loop back (a Wait before trying again): its other exits count
        if states[name]["Type"] in ("Succeed", "Fail") or "End" in states[name]:
            return False
        # ReverseCharge refused stops the SAGA with the hold open for an operator
        # (test_a_failed_card_payment_is_reversed_at_the_bank_before_the_release).
        targets = _targets(states[name])
        if name == "ReverseCharge":
            targets = [t for t in targets if states[t]["Type"] != "Fail"]
        return all(reaches_release(t, seen | {name}) for t in targets)

    for name in ("ProcessPayment", "AwaitPseConfirmation"):
        for catch in states[name]["Catch"]:
            assert reaches_release(catch["Next"]), f"{name} catches {catch['ErrorEquals']}"
    # After the processor approved, only the wallet's refusal of the capture compensates.
    refused = next(c for c in states["CaptureFunds"]["Catch"] if c["ErrorEquals"] == ["Refused"])
    assert reaches_release(refused["Next"])
    # A refused reserve made no hold: nothing to release.
    refused = next(c for c in states["ReserveFunds"]["Catch"] if c["ErrorEquals"] == ["Refused"])
    assert not reaches_release(refused["Next"])


def test_a_failed_card_payment_is_reversed_at_the_bank_before_the_release(
    states: dict[str, Any],
) -> None:
    """The card may have been charged (an answer lost, a pending authorization, a refused
    capture): ReverseCharge runs before ReleaseFunds. A bank that does not answer is waited
    for; only the service's refusal (a contract break) stops the SAGA, with the hold open."""
    choose = states[states["MarkFailed"]["Next"]]
    assert choose["Type"] == "Choice"
    assert choose["Choices"] == [
        {"Variable": "$.method", "StringEquals": "card", "Next": "ReverseCharge"}
    ]
    assert choose["Default"] == "ReleaseFunds"
    assert states["ReverseCharge"]["Next"] == "ReleaseFunds"
    assert states[_waits_then_tries_again(states, "ReverseCharge")]["Type"] == "Fail"
    # Declines and abandonments took nothing at the bank: they release at once.
    assert states["MarkRejected"]["Next"] == states["MarkAbandoned"]["Next"] == "ReleaseFunds"


def test_an_approved_payment_waits_for_the_wallet_and_is_never_compensated_for_it(
    states: dict[str, Any],
) -> None:
    """The card was charged (or PSE paid): releasing the hold would leave the payer charged
    and the merchant unpaid. Whatever else fails in CaptureFunds waits, then captures again."""
    assert _waits_then_tries_again(states, "CaptureFunds") == "MarkFailed"
    assert states["CheckOutcome"]["Choices"][0] == {
        "Variable": "$.process.outcome",
        "StringEquals": "approved",
        "Next": "CaptureFunds",
    }


def test_a_release_the_wallet_cannot_take_now_is_waited_for(states: dict[str, Any]) -> None:
    """The hold must go (LocalStack has no redrive): a wallet that does not answer is waited
    for; only its refusal (a contract break) stops the execution, for an operator."""
    assert states["ReleaseFunds"]["Next"] == "Notify"
    assert states[_waits_then_tries_again(states, "ReleaseFunds")]["Type"] == "Fail"


def test_transient_errors_are_retried_with_backoff(states: dict[str, Any]) -> None:
    for name, state in states.items():
        if state["Type"] == "Task":
            retries = state.get("Retry", [])
            assert any(
                "TransientError" in r["ErrorEquals"] or "States.ALL" in r["ErrorEquals"]
                for r in retries
            ), name
            assert all(r.get("BackoffRate", 1) > 1 for r in retries), name


def test_pse_waits_for_the_token_and_times_out_to_abandonment(states: dict[str, Any]) -> None:
    pse = states["AwaitPseConfirmation"]
    assert pse["Resource"].endswith(".waitForTaskToken")
    assert pse["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    assert "TimeoutSecondsPath" in pse
    timeout = next(c for c in pse["Catch"] if c["ErrorEquals"] == ["States.Timeout"])
    assert states[timeout["Next"]]["Result"] == "abandoned"


def test_template_substitutes_every_placeholder() -> None:
    placeholders = set(re.findall(r"\$\{(\w+)\}", ASL.read_text()))
    machine = load_template()["Resources"]["PaymentSaga"]["Properties"]
    assert placeholders == set(machine["DefinitionSubstitutions"])


def test_lambda_zip_is_reproducible_and_holds_only_the_handlers() -> None:
    first, second = lambda_zip(), lambda_zip()
    assert first == second
    names = zipfile.ZipFile(BytesIO(first)).namelist()
    assert "paylab/__init__.py" in names
    vendored = {name for name, _ in vendored_files()}
    assert all(
        n == "paylab/__init__.py" or n.startswith("paylab/lambdas/") or n in vendored for n in names
    )
    handlers = load_template()["Resources"]
    for resource in handlers.values():
        if resource["Type"] == "AWS::Lambda::Function":
            module = resource["Properties"]["Handler"].rsplit(".", 1)[0]
            assert module.replace(".", "/") + ".py" in names


def test_lambdas_need_only_the_standard_library_and_boto3() -> None:
    # pg8000 is vendored into the zip (pure Python) for the Postgres rotation Lambda.
    allowed_third_party = {"boto3", "botocore", "pg8000"}
    for path in LAMBDAS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            for module in modules:
                top = module.split(".")[0]
                ok = (
                    top in allowed_third_party
                    or module.startswith("paylab.lambdas")
                    or top == "__future__"
                    or top in __import__("sys").stdlib_module_names
                )
                assert ok, f"{path.name} imports {module}"


def test_every_partner_outcome_has_its_final_status(states: dict[str, Any]) -> None:
    """The outcomes ProcessPayment may return each lead to the matching Mark state."""
    from paylab.payment.saga_steps import pse_outcome

    routes = {
        c["StringEquals"]: states[c["Next"]].get("Result")
        for c in states["CheckOutcome"]["Choices"]
        if "StringEquals" in c
    }
    for status in ("approved", "rejected", "abandoned"):
        outcome, _ = pse_outcome(status)
        assert outcome in routes, status
    assert routes["rejected"] == "rejected" and routes["abandoned"] == "abandoned"
    assert pse_outcome("failed")[0] not in routes  # falls to the Default: MarkFailed
    assert states[states["CheckOutcome"]["Default"]]["Result"] == "failed"
