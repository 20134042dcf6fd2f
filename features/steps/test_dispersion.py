"""Steps for features/merchants/dispersion.feature: nightly payouts through the whole stack.

Midnight is the stack's dispersion Lambda invoked with the scheduled event EventBridge sends
(`time` at 05:00 UTC, 00:00 in Bogota), so the business date comes from the same code path as
the real schedule. Each scenario signs its own merchant up; bank faults match that merchant's
document only and are removed afterwards, even on failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import merchants_support as ms
import payments_support as sup
import pytest
import saga_support as saga
from messaging_support import receipts_to
from pytest_bdd import given, parsers, scenarios, then, when

from paylab.core.aws import invoker
from paylab.core.job_runs import eventbridge_scheduled_event
from paylab.core.settings import get_settings
from paylab.core.stack_outputs import output
from paylab.lambdas._schedule import BOGOTA
from simulators.testing import bank_payouts

pytestmark = [pytest.mark.stack, pytest.mark.timeout(240)]
scenarios("merchants/dispersion.feature")


@dataclass
class World:
    """One scenario's merchant, its signup and what the nightly runs answered."""

    cleanup: ExitStack
    faults: sup.Faults
    merchant: sup.Merchant | None = None
    signup: dict[str, Any] = field(default_factory=dict)
    email: str = ""
    business_date: date | None = None
    available_before: Decimal = Decimal(0)
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def m(self) -> sup.Merchant:
        assert self.merchant is not None, "no merchant signed up"
        return self.merchant

    @property
    def cust_id(self) -> str:
        return str(self.signup["signature_keys"]["p_cust_id_cliente"])

    def mine(self, run: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for r in run["results"] if r["merchant_id"] == self.m.merchant_id]


@pytest.fixture
def world() -> Iterator[World]:
    with ExitStack() as stack:
        faults = sup.Faults()
        stack.callback(faults.clear)
        yield World(stack, faults)


def midnight(business_date: date) -> dict[str, Any]:
    """EventBridge's scheduled event for the run at 00:00 Bogota after `business_date`."""
    fired = datetime.combine(business_date + timedelta(days=1), datetime.min.time(), BOGOTA)
    return eventbridge_scheduled_event(
        fired.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        rule_arn=output("DispersionScheduleArn"),
        account="000000000000",
        region=get_settings().region,
    )


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    """Invoke the stack's dispersion Lambda synchronously; its answer."""
    answer = invoker(get_settings()).invoke(
        FunctionName=output("DispersionFunctionName"), Payload=json.dumps(event).encode()
    )
    payload = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, payload
    return dict(payload)


def dispersions(world: World) -> list[dict[str, Any]]:
    r = world.m.call("GET", "/v1/merchants/me/dispersions")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


# ---------------------------------------------------------------------------------- given
@given("a partner signs a merchant up with its confirmation URL at the merchant-side receiver")
def _signs_up(world: World) -> None:
    form = ms.signup_form(confirmation_url=ms.CONFIRMATION_URL)
    with ms.partner_client() as partner:
        r = ms.signup(partner, form, sup.unique("signup"))
    assert r.status_code == 201, r.text
    world.signup, world.email = r.json(), str(form["email"])
    creds = world.signup["credentials"]
    world.merchant = ms.login(creds["public_key"], creds["private_key"])
    ms.receiver_knows(world.cust_id, world.signup["signature_keys"]["p_key"])


@given("the merchant sets its payout account")
def _payout_account(world: World) -> None:
    r = world.m.call(
        "PUT",
        "/v1/merchants/me/payout-account",
        json={
            "bank_code": "1007",
            "account_type": "savings",
            "account_number": "00123456789",
            "holder_name": "Tienda QA SAS",
        },
    )
    assert r.status_code == 200, r.text


@given(parsers.parse('the merchant receives an approved card payment of "{amount}" COP'))
def _approved_payment(world: World, amount: str) -> None:
    sup.ensure_card_balance(sup.APPROVED_CARD)
    body = sup.card_payment(
        amount, sup.APPROVED_CARD, reference=sup.unique("order"), email="ana@example.com"
    )
    r = world.m.pay(body)
    assert r.status_code == 201, r.text
    assert world.m.wait_final(str(r.json()["id"]))["status"] == "approved"
    net = Decimal(amount) - sup.platform_fee(Decimal(amount))
    sup.wait_for(
        "the net amount to be available",
        lambda: world.m.balance()["available"] == net or None,
        timeout=30,
    )
    world.available_before = net
    world.business_date = datetime.now(BOGOTA).date()


@given("the bank will refuse the merchant's next payout")
def _bank_refuses(world: World) -> None:
    doc = str(world.signup["merchant"]["doc_number"]).split("-")[0]
    world.faults.add(
        "bank",
        {
            "match": {"method": "POST", "path": "/v1/payouts", "body": {"holder_doc_number": doc}},
            "effect": {"type": "error", "status": 422, "body": {"detail": "account_closed"}},
            "when": {"next": 1},
        },
    )


# ----------------------------------------------------------------------------------- when
@when("midnight after the payment's business day happens in Bogota")
def _midnight(world: World) -> None:
    assert world.business_date is not None
    world.runs.append(invoke(midnight(world.business_date)))


@when("the same midnight is fired again")
def _midnight_again(world: World) -> None:
    _midnight(world)


@when("midnight of the following day happens in Bogota")
def _next_midnight(world: World) -> None:
    assert world.business_date is not None
    world.business_date += timedelta(days=1)
    _midnight(world)


# ----------------------------------------------------------------------------------- then
@then("the merchant is paid its whole available balance once")
def _paid_once(world: World) -> None:
    paid = [r for r in dispersions(world) if r["status"] == "paid"]
    assert len(paid) == 1, paid
    assert Decimal(paid[0]["amount"]) == world.available_before
    assert world.m.balance()["available"] == Decimal("0.00")
    assert sum(r["result"] == "paid" for run in world.runs for r in world.mine(run)) == 1


@then("the second run reports the merchant already paid")
def _already_paid(world: World) -> None:
    assert [r["result"] for r in world.mine(world.runs[0])] == ["paid"]
    assert [r["result"] for r in world.mine(world.runs[1])] == ["already_paid"]


@then("the merchant's dispersion is rejected and its available balance is intact")
def _rejected(world: World) -> None:
    assert [r["result"] for r in world.mine(world.runs[-1])] == ["rejected"]
    [row] = dispersions(world)
    assert row["status"] == "rejected" and row["wallet_return_id"] is not None
    assert world.m.balance()["available"] == world.available_before


def _mail_about(world: World, what: str, subject: str) -> dict[str, Any]:
    """The first message to the merchant's address whose subject starts with `subject`."""
    found = sup.wait_for(
        what,
        lambda: (
            [m for m in receipts_to(world.email) if m.get("Subject", "").startswith(subject)]
            or None
        ),
        timeout=30,
    )
    return dict(found[0])


@then("the merchant's email receives the payout notice")
def _email(world: World) -> None:
    _mail_about(world, "the payout notice", "Dispersión del")


@then("the merchant's email was told of its new payout account")
def _account_email(world: World) -> None:
    message = _mail_about(
        world, "the payout-account notice", "Cambiaste la cuenta donde recibes tus dispersiones"
    )
    body = str(message.get("Body", {}))
    assert "terminada en" in body and "ninguna cuenta" in body, body


@then("the receiver records the payout webhook with a valid signature")
def _webhook(world: World) -> None:
    [row] = [r for r in dispersions(world) if r["status"] == "paid"]
    [hook] = sup.wait_for(
        "the payout webhook", lambda: ms.confirmations(row["id"]) or None, timeout=30
    )
    assert hook["signature_valid"] is True
    fields = hook["fields"]
    assert (fields["x_type"], fields["x_amount"]) == ("dispersion", row["amount"])
    assert ms.signature_ok(fields, world.cust_id, world.signup["signature_keys"]["p_key"])


@then("what the bank paid equals what the ledger moved, nothing paid twice")
def _money_check(world: World) -> None:
    rows = dispersions(world)
    answers = bank_payouts(sup.SIMS["bank"], {f"disp-{r['id']}" for r in rows})
    paid = [a for a in answers.values() if a["status"] == "paid"]
    assert len({a["reference"] for a in paid}) == len(paid), "a dispersion was paid twice"
    paid_total = sum((Decimal(a["amount"]) for a in paid), Decimal(0))
    account = world.signup["merchant"]["wallet_account_id"]
    r = world.m.call("GET", f"/v1/wallets/{account}/statement", params={"limit": 200})
    assert r.status_code == 200, r.text
    kinds = ("payout", "payout_return")
    moved = -sum(
        (Decimal(i["amount"]) for i in r.json()["items"] if i["kind"] in kinds), Decimal(0)
    )
    assert paid_total == moved == world.available_before
    check = saga.ledger_check(world.m.merchant_id)
    assert check["entries_sum_zero"] and check["balances_match_entries"], check
