"""Steps for the card payment scenarios in which a service or a Lambda runtime dies mid-SAGA
or a Lambda is deployed broken.

test_payments.py imports them (`import *`: pytest-bdd registers each step as a fixture in
this module, and the test module must see those fixtures).
"""

from __future__ import annotations

import json
from typing import Any

import merchants_support as ms
import payments_support as sup
import runtimes_support as rt
import saga_support as saga
import services_support as svc
from payment_scenario import PaymentWorld
from pytest_bdd import given, parsers, then, when
from typer.testing import CliRunner

from paylab.cli import app as cli


# ------------------------------------------------------------------------------- a dying service
@when("the wallet service is killed while the funds are held")
def _kill_wallet(world: PaymentWorld) -> None:
    sup.wait_for(
        "the SAGA to hold the funds",
        lambda: True if saga.ledger_check(world.m.merchant_id)["open_holds"] == 1 else None,
        timeout=30.0,
    )
    argv = svc.recorded_argv("wallet")
    # Whatever happens next, the wallet runs again after the scenario.
    world.cleanup.callback(
        lambda: None if svc.service_running("wallet") else svc.start_service("wallet", argv, 8003)
    )
    svc.kill_service("wallet")
    world.created["wallet_argv"] = argv


@when("the wallet service is started again after the SAGA failed to reach it")
def _restart_wallet(world: PaymentWorld) -> None:
    sup.wait_for(
        "CaptureFunds to fail against the stopped wallet",
        lambda: True if saga.failed_attempts(world.payment_id).get("CaptureFunds") else None,
        timeout=30.0,
    )
    assert saga.execution_status(world.payment_id) == "RUNNING"
    svc.start_service("wallet", world.created["wallet_argv"], 8003)


@when("the wallet service is started again once the SAGA waits to capture later")
def _restart_wallet_later(world: PaymentWorld) -> None:
    # CaptureFunds' retries (1 + 2 + 4 + 8 + 16 + 20 s) fail against the stopped wallet first.
    sup.wait_for(
        "the SAGA to wait in CaptureLater",
        lambda: True if saga.entered(world.payment_id, "CaptureLater") else None,
        timeout=150.0,
    )
    assert saga.execution_status(world.payment_id) == "RUNNING"
    svc.start_service("wallet", world.created["wallet_argv"], 8003)


@then(parsers.parse('the SAGA waited in "{wait}" and never ran "{compensation}"'))
def _waited(world: PaymentWorld, wait: str, compensation: str) -> None:
    assert saga.entered(world.payment_id, wait)
    assert not saga.entered(world.payment_id, compensation)


@then(parsers.parse('the SAGA retried "{state}" while the wallet was down'))
def _retried(world: PaymentWorld, state: str) -> None:
    assert saga.failed_attempts(world.payment_id).get(state, 0) >= 1


# ------------------------------------------------------------------------------- a dying Lambda
@when(parsers.parse('the runtime process of the "{step}" Lambda is killed in the middle of it'))
def _kill_runtime(world: PaymentWorld, step: str) -> None:
    # The scenario's partner fault keeps its own call open; others' calls end in milliseconds.
    victim = rt.busy_runtime(step, busy_for=1.0, timeout=30.0)
    assert saga.execution_status(world.payment_id) == "RUNNING"
    rt.kill(victim)


@when("the wallet service is paused once the SAGA is past ReserveFunds")
def _pause_wallet(world: PaymentWorld) -> None:
    # The bank's delay keeps ProcessPayment busy: CaptureFunds has not called the wallet yet.
    sup.wait_for(
        "the SAGA to enter ProcessPayment",
        lambda: True if "ProcessPayment" in saga.task_states(world.payment_id) else None,
        timeout=30.0,
    )
    paused = svc.pause_service("wallet")
    world.cleanup.callback(svc.resume_service, paused)  # never leave the wallet stopped
    world.created["paused_wallet"] = paused


@when(
    parsers.parse(
        'the runtime process of the "{step}" Lambda is killed while its request waits in the wallet'
    )
)
def _kill_waiting_runtime(world: PaymentWorld, step: str) -> None:
    victim = rt.runtime_waiting_on_paused_service(step, timeout=30.0)
    assert saga.execution_status(world.payment_id) == "RUNNING"
    rt.kill(victim)


@when("the wallet service resumes")
def _resume_wallet(world: PaymentWorld) -> None:
    svc.resume_service(world.created["paused_wallet"])


@then(parsers.parse('the SAGA retried "{step}" after its runtime died'))
def _retried_dead_runtime(world: PaymentWorld, step: str) -> None:
    errors = [(s.state, e) for s in saga.trace(world.payment_id).steps for e in s.errors]
    assert any(s == step and e.startswith("Runtime.ExitError") for s, e in errors), errors


# ------------------------------------------------------------------------------- a broken Lambda
@given("the ReleaseFunds Lambda is deployed with a wrong wallet address")
def _misconfigure_release(world: PaymentWorld) -> None:
    # A broken deployment: every release gets the wallet's 404, which retrying cannot mend.
    # Put right after the scenario whatever happens (other payments need ReleaseFunds).
    # Other scenarios' executions are finished or waiting elsewhere (PSE, review) by now: the
    # few seconds this lasts reach only this scenario's ReleaseFunds.
    env = rt.lambda_env("ReleaseFunds")
    right = env["PAYLAB_WALLET_URL"].removesuffix("/misdeployed")  # a run killed mid-scenario
    env = {**env, "PAYLAB_WALLET_URL": right}
    world.cleanup.callback(rt.set_lambda_env, "ReleaseFunds", env)
    wrong = right.rstrip("/") + "/misdeployed"
    rt.set_lambda_env("ReleaseFunds", {**env, "PAYLAB_WALLET_URL": wrong})
    world.notes["release_env"] = env


@then(parsers.parse('the SAGA fails with "{error}" and the payment\'s hold is still open'))
def _saga_stopped(world: PaymentWorld, error: str) -> None:
    assert saga.finished_execution(world.payment_id) == "FAILED"
    assert (saga.trace(world.payment_id).error or "").startswith(f"{error}:")
    assert saga.ledger_check(world.m.merchant_id)["open_holds"] == 1
    assert world.m.payment(world.payment_id)["status"] == "pending"


def _stopped(world: PaymentWorld) -> dict[str, dict[str, Any]]:
    """`paylab payments stopped --json` by payment id (it exits 1 while any is listed, and
    other scenarios' payments may be)."""
    result = CliRunner().invoke(cli, ["payments", "stopped", "--json"])
    assert result.exit_code in (0, 1), result.output
    items = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return {item["payment_id"]: item for item in items}


@then("`paylab payments stopped` lists the payment as one to compensate")
def _listed(world: PaymentWorld) -> None:
    item = _stopped(world)[world.payment_id]
    assert item["execution_status"] == "FAILED" and item["refusal"] is None, item
    assert item["plan"]["steps"] == ["ReleaseFunds", "Notify"], item


@then("`paylab payments stopped` no longer lists the payment")
def _not_listed(world: PaymentWorld) -> None:
    assert world.payment_id not in _stopped(world)


@when("the ReleaseFunds Lambda's configuration is put right")
def _fix_release(world: PaymentWorld) -> None:
    rt.set_lambda_env("ReleaseFunds", world.notes["release_env"])


@when("an operator runs `paylab payments compensate` for the payment")
def _compensate(world: PaymentWorld) -> None:
    world.notes["compensated"] = ms.paylab("payments", "compensate", world.payment_id)


@then(parsers.parse('the command ran "{states}"'))
def _compensate_ran(world: PaymentWorld, states: str) -> None:
    answer = world.notes["compensated"]
    assert [r["state"] for r in answer["ran"]] == [s.strip() for s in states.split(",")], answer
    assert answer["ran"][0]["result"]["released"] is True, answer
