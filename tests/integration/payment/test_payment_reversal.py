"""ReverseCharge on the stack's bank simulator: what a failed card payment took is given back."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from paylab.core.partner_keys import partner_auth
from paylab.payment import reversal, saga_steps
from paylab.payment.schemas import luhn_ok
from paylab.payment.wiring import Services

from .conftest import (
    APPROVED_CARD,
    BANK,
    REJECTED_CARD,
    bank_calls,
    card_body,
    create_payment,
    wallet_body,
)

Headers = Callable[..., dict[str, str]]
PENDING_CARD = "373118856457642"


def own_card() -> str:
    """A Luhn-valid number no other test uses: its bank account starts at the default balance."""
    body = "4" + f"{uuid.uuid4().int % 10**14:014d}"
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


def balance(number: str) -> Decimal:
    return Decimal(httpx.get(f"{BANK}/_sim/cards/{number}").json()["balance_cop"])


def at_bank(payment_id: str) -> list[dict[str, Any]]:
    found = httpx.get(
        f"{BANK}/v1/authorizations", params={"reference": payment_id}, auth=partner_auth("bank")
    )
    assert found.status_code == 200, found.text
    return list(found.json()["authorizations"])


def processed(svc: Services, payment_id: str) -> list[tuple[str, str | None]]:
    """The (outcome, reason) of every PaymentProcessed event, oldest first."""
    return [
        (str(e.data["outcome"]), e.data.get("reason"))
        for e in svc.repo.store.load(payment_id)
        if e.type == "PaymentProcessed"
    ]


@pytest.fixture
def unreadable_answers(
    sim_faults: Callable[[str, dict[str, Any]], str],
) -> Callable[[str], str]:
    """unreadable_answers(payment_id): the bank authorizes it but every answer is cut short."""

    def add(payment_id: str) -> str:
        match = {"method": "POST", "path": "/v1/authorizations", "body": {"reference": payment_id}}
        return sim_faults(BANK, {"match": match, "effect": {"type": "malformed"}})

    return add


def reverse(client: TestClient, internal: dict[str, str], payment_id: str) -> httpx.Response:
    return client.post(f"/internal/payments/{payment_id}/reverse-charge", headers=internal)


def test_a_charge_whose_answers_were_lost_is_refunded_once_and_never_made_again(
    client: TestClient,
    headers: Headers,
    internal_headers: dict[str, str],
    svc: Services,
    unreadable_answers: Callable[[str], str],
) -> None:
    card = own_card()
    payment_id = create_payment(client, headers, card_body(card, amount="4200.00"))
    before = balance(card)
    unreadable_answers(payment_id)
    lost = client.post(
        f"/internal/payments/{payment_id}/process", json={"attempt": 1}, headers=internal_headers
    )
    assert lost.status_code == 503, lost.text  # the SAGA would retry, then give up
    assert balance(card) == before - Decimal("4200.00")  # ... but the card was charged
    first = reverse(client, internal_headers, payment_id)
    assert first.status_code == 200, first.text
    (auth,) = at_bank(payment_id)
    assert first.json() == {
        "outcome": "charge_reversed",
        "reversed": [{"authorization_id": auth["id"], "action": "refunded", "amount": "4200.00"}],
    }
    assert auth["status"] == "refunded" and balance(card) == before
    again = reverse(client, internal_headers, payment_id)  # a retried step repeats nothing
    assert again.json() == {"outcome": "charge_reversed", "reversed": []}
    assert bank_calls(f"/v1/authorizations/{auth['id']}/refunds", "4200.00") == 1
    # Processing is closed: a late ProcessPayment answers failed and charges nothing.
    late = client.post(
        f"/internal/payments/{payment_id}/process", json={"attempt": 4}, headers=internal_headers
    )
    assert late.json() == {"outcome": "failed", "reason": "charge_reversed"}
    assert len(at_bank(payment_id)) == 1 and balance(card) == before
    assert processed(svc, payment_id) == [
        ("failed", "reversal_started"),
        ("failed", "charge_reversed"),
    ]


def test_a_pending_authorization_is_voided_and_never_resolves(
    client: TestClient, headers: Headers, internal_headers: dict[str, str], svc: Services
) -> None:
    payment_id = create_payment(client, headers, card_body(PENDING_CARD))
    url = f"/internal/payments/{payment_id}/process"
    assert client.post(url, json={"attempt": 1}, headers=internal_headers).json()["outcome"] == (
        "pending"
    )
    out = reverse(client, internal_headers, payment_id).json()
    (auth,) = at_bank(payment_id)
    assert out["outcome"] == "charge_reversed"
    assert out["reversed"] == [
        {"authorization_id": auth["id"], "action": "voided", "amount": "1500.00"}
    ]
    assert auth["status"] == "voided"
    assert processed(svc, payment_id)[1:] == [
        ("failed", "reversal_started"),
        ("failed", "charge_reversed"),
    ]


def test_a_payment_the_bank_never_saw_is_closed_with_nothing_charged(
    client: TestClient, headers: Headers, internal_headers: dict[str, str], svc: Services
) -> None:
    payment_id = create_payment(client, headers, card_body(APPROVED_CARD))
    out = reverse(client, internal_headers, payment_id)
    assert out.json() == {"outcome": "nothing_charged", "reversed": []}
    assert processed(svc, payment_id) == [
        ("failed", "reversal_started"),
        ("failed", "nothing_charged"),
    ]
    late = client.post(
        f"/internal/payments/{payment_id}/process", json={"attempt": 1}, headers=internal_headers
    )
    assert late.json() == {"outcome": "failed", "reason": "nothing_charged"}
    assert at_bank(payment_id) == []


def test_a_declined_card_keeps_the_banks_reason_and_a_wallet_payment_skips_the_bank(
    client: TestClient, headers: Headers, internal_headers: dict[str, str], svc: Services
) -> None:
    declined = create_payment(client, headers, card_body(REJECTED_CARD))
    url = f"/internal/payments/{declined}/process"
    client.post(url, json={"attempt": 1}, headers=internal_headers)
    out = reverse(client, internal_headers, declined)
    assert out.json() == {"outcome": "nothing_charged", "reversed": []}
    assert processed(svc, declined) == [("rejected", "insufficient_funds")]
    wallet = create_payment(client, headers, wallet_body())
    assert reverse(client, internal_headers, wallet).json()["outcome"] == "nothing_charged"
    assert at_bank(wallet) == []


def test_an_approved_payment_is_never_reversed(
    client: TestClient, internal_headers: dict[str, str], approved: Callable[..., str]
) -> None:
    payment_id = approved(card_body(APPROVED_CARD))
    refused = reverse(client, internal_headers, payment_id)
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("payment-approved")
    assert at_bank(payment_id)[0]["status"] == "captured"


def test_a_charge_in_flight_while_the_step_reverses_is_given_back_by_its_own_request(
    client: TestClient,
    headers: Headers,
    svc: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ProcessPayment read the payment before ReverseCharge closed it, then charged."""
    card = own_card()
    payment_id = create_payment(client, headers, card_body(card, amount="3100.00"))
    before = balance(card)
    real = svc.bank.authorize
    steps: list[dict[str, Any]] = []

    def racing(body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        steps.append(reversal.reverse_charge(svc, payment_id))  # the SAGA gave up meanwhile
        return real(body, idempotency_key)

    monkeypatch.setattr(svc.bank, "authorize", racing)
    assert saga_steps.process(svc, payment_id) == ("failed", "charge_reversed")
    assert steps == [{"outcome": "nothing_charged", "reversed": []}]
    (auth,) = at_bank(payment_id)
    assert auth["status"] == "refunded" and balance(card) == before
    assert processed(svc, payment_id) == [
        ("failed", "reversal_started"),
        ("failed", "nothing_charged"),
        ("failed", "charge_reversed"),
    ]


def test_the_charge_the_payment_recorded_is_reversed_even_if_the_lookup_misses_it(
    client: TestClient,
    headers: Headers,
    internal_headers: dict[str, str],
    svc: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bank approved (the wallet then refused the capture); its index lags behind."""
    card = own_card()
    payment_id = create_payment(client, headers, card_body(card, amount="2700.00"))
    before = balance(card)
    url = f"/internal/payments/{payment_id}/process"
    assert client.post(url, json={"attempt": 1}, headers=internal_headers).json() == {
        "outcome": "approved",
        "reason": None,
    }
    monkeypatch.setattr(svc.bank, "find_authorizations", lambda reference: [])
    out = reverse(client, internal_headers, payment_id).json()
    assert out["outcome"] == "charge_reversed" and out["reversed"][0]["action"] == "refunded"
    assert balance(card) == before
    assert processed(svc, payment_id) == [("approved", None), ("failed", "charge_reversed")]
