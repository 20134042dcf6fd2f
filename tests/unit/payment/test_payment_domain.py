"""The pure fold of a payment's events: states, transitions, cod_respuesta."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from paylab.payment import domain
from paylab.payment.domain import EventRecord, InvalidTransition, Status

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def created_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "payment_id": "p-1",
        "merchant_id": "m-1",
        "ref_payco": "100000001",
        "reference": "order-1",
        "description": "",
        "method": "card",
        "amount": "30000.00",
        "currency": "COP",
        "customer": {"email": "ana@example.com", "name": "Ana"},
        "idempotency_key": "k-1",
        "request_hash": "h",
        "card": {"token": "tok_000000000001", "brand": "visa", "last4": "0326"},
        "antifraud": {"decision": "approve", "score": 0},
    }
    data.update(overrides)
    return data


def ev(version: int, kind: str, **data: Any) -> EventRecord:
    return EventRecord(
        event_id=f"e{version}",
        type=kind,
        version=version,
        occurred_at=T0 + timedelta(seconds=version),
        data=data,
    )


def created(**overrides: Any) -> EventRecord:
    return ev(1, domain.CREATED, **created_data(**overrides))


def test_an_empty_stream_is_no_payment() -> None:
    assert domain.fold([]) is None


def test_created_is_pending_with_cod_3_and_keeps_only_the_card_token() -> None:
    state = domain.fold([created()])
    assert state is not None
    assert state.status is Status.PENDING and state.cod_respuesta == 3
    assert state.amount == Decimal("30000.00") and state.version == 1
    assert (state.card_token, state.card_brand, state.card_last4) == (
        "tok_000000000001",
        "visa",
        "0326",
    )
    assert not state.is_final


def test_card_approved_path_then_refund() -> None:
    state = domain.fold(
        [
            created(),
            ev(2, domain.PROCESSED, outcome="approved", reason=None, authorization_id="auth_1"),
            ev(3, domain.COMPLETED, status="approved", reason=None),
            ev(4, domain.REFUNDED, refund_id="rf_1", amount="30000.00"),
        ]
    )
    assert state is not None
    assert state.status is Status.REVERSED and state.cod_respuesta == 6
    assert state.outcome_status is Status.APPROVED
    assert state.authorization_id == "auth_1" and state.refund_id == "rf_1"
    assert state.version == 4 and state.updated_at == T0 + timedelta(seconds=4)


def approved_events() -> list[EventRecord]:
    return [
        created(),
        ev(2, domain.PROCESSED, outcome="approved", reason=None, authorization_id="auth_1"),
        ev(3, domain.COMPLETED, status="approved", reason=None),
    ]


def test_partial_refunds_keep_it_approved_until_they_add_up_to_the_amount() -> None:
    state = domain.fold(
        [
            *approved_events(),
            ev(4, domain.REFUNDED, refund_id="rf_1", amount="10000.00"),
            ev(5, domain.REFUNDED, refund_id="rf_2", amount="0.50"),
        ]
    )
    assert state is not None
    assert (state.status, state.cod_respuesta) == (Status.APPROVED, 1)
    assert state.refunded_amount == Decimal("10000.50")
    assert state.refund_ids == ("rf_1", "rf_2") and state.refund_id == "rf_2"
    last = domain.fold_from(state, [ev(6, domain.REFUNDED, refund_id="rf_3", amount="19999.50")])
    assert last is not None
    assert (last.status, last.refunded_amount) == (Status.REVERSED, Decimal("30000.00"))


def test_a_refund_event_without_an_amount_refunds_the_rest() -> None:
    # Events appended before partial refunds existed may lack the amount.
    state = domain.fold([*approved_events(), ev(4, domain.REFUNDED, refund_id="rf_1")])
    assert state is not None
    assert (state.status, state.refunded_amount) == (Status.REVERSED, Decimal("30000.00"))


@pytest.mark.parametrize(
    "refunds",
    [
        pytest.param([("rf_1", "30000.01")], id="more-than-the-amount"),
        pytest.param([("rf_1", "20000.00"), ("rf_2", "10000.01")], id="more-in-all"),
        pytest.param([("rf_1", "100.00"), ("rf_1", "100.00")], id="the-same-refund-twice"),
        pytest.param([("rf_1", "30000.00"), ("rf_2", "1.00")], id="after-reversal"),
        pytest.param([("rf_1", "0.00")], id="nothing"),
    ],
)
def test_refunds_that_do_not_add_up_are_refused(refunds: list[tuple[str, str]]) -> None:
    events = approved_events()
    for refund_id, amount in refunds:
        events.append(ev(len(events) + 1, domain.REFUNDED, refund_id=refund_id, amount=amount))
    with pytest.raises(InvalidTransition):
        domain.fold(events)


@pytest.mark.parametrize(
    ("status", "cod"), [("rejected", 2), ("failed", 4), ("abandoned", 10), ("cancelled", 11)]
)
def test_failed_outcomes_and_their_codes(status: str, cod: int) -> None:
    state = domain.fold([created(), ev(2, domain.FAILED, status=status, reason="why")])
    assert state is not None
    assert state.status.value == status and state.cod_respuesta == cod
    assert state.outcome_reason == "why" and state.is_final


@pytest.mark.parametrize(
    "events",
    [
        pytest.param([ev(1, domain.PROCESSED, outcome="approved")], id="no-created-first"),
        pytest.param([created(), created()], id="created-twice"),
        pytest.param([created(), ev(3, domain.COMPLETED, status="approved")], id="version-gap"),
        pytest.param(
            [created(), ev(2, domain.COMPLETED, status="rejected")], id="completed-not-approved"
        ),
        pytest.param([created(), ev(2, domain.FAILED, status="approved")], id="failed-approved"),
        pytest.param(
            [created(), ev(2, domain.REFUNDED, refund_id="r")], id="refund-before-approval"
        ),
        pytest.param(
            [
                created(),
                ev(2, domain.FAILED, status="rejected"),
                ev(3, domain.COMPLETED, status="approved"),
            ],
            id="final-state-changes",
        ),
        pytest.param(
            [
                created(),
                ev(2, domain.COMPLETED, status="approved"),
                ev(3, domain.PROCESSED, outcome="failed"),
            ],
            id="processed-after-final",
        ),
        pytest.param([created(), ev(2, "PaymentTeleported")], id="unknown-type"),
        pytest.param([created(), ev(2, domain.PROCESSED, outcome="maybe")], id="bad-outcome"),
    ],
)
def test_invalid_transitions_are_refused(events: list[EventRecord]) -> None:
    with pytest.raises(InvalidTransition):
        domain.fold(events)


def test_fold_from_a_state_equals_the_full_fold() -> None:
    events = [
        created(),
        ev(2, domain.PROCESSED, outcome="pending", reason="pending_review", authorization_id="a"),
        ev(3, domain.PROCESSED, outcome="approved", reason=None),
        ev(4, domain.COMPLETED, status="approved"),
    ]
    middle = domain.fold(events[:2])
    assert domain.fold_from(middle, events[2:]) == domain.fold(events)
    final = domain.fold(events)
    assert final is not None and final.authorization_id == "a"  # kept when not repeated


def test_pse_and_wallet_details() -> None:
    pse = domain.fold(
        [
            created(
                method="pse",
                card=None,
                pse={"bank_code": "1007", "transaction_id": "pse_1", "redirect_url": "http://x/b"},
            )
        ]
    )
    wallet = domain.fold([created(method="wallet", card=None, payer_account_id="acc-1")])
    assert pse is not None and wallet is not None
    assert (pse.pse_transaction_id, pse.pse_redirect_url) == ("pse_1", "http://x/b")
    assert wallet.payer_account_id == "acc-1" and wallet.card_token is None


def test_every_status_has_its_epayco_code() -> None:
    assert {s: domain.COD_RESPUESTA[s] for s in Status} == {
        Status.APPROVED: 1,
        Status.REJECTED: 2,
        Status.PENDING: 3,
        Status.FAILED: 4,
        Status.REVERSED: 6,
        Status.HELD: 7,
        Status.ABANDONED: 10,
        Status.CANCELLED: 11,
    }
