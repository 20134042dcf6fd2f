"""Events built by the producers' own code (payment projection, wallet) match their contracts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from event_capture import CapturingSession

from paylab.core import outbox
from paylab.core.event_schemas import event_types, schema, validate
from paylab.core.settings import Settings
from paylab.payment import domain, projection
from paylab.payment.domain import EventRecord, PaymentState
from paylab.wallet import events as wallet_events
from paylab.wallet import ledger
from paylab.wallet.holds import hold_body
from paylab.wallet.models import Hold

T0 = datetime(2026, 12, 4, 19, 0, tzinfo=UTC)
PAYMENT_ID = "3b0d7471-4401-45aa-a20b-16e6036e76cc"


@pytest.fixture(autouse=True)
def no_validation_in_add_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests validate what was captured themselves, whatever the environment says."""
    monkeypatch.setattr(outbox, "get_settings", lambda: Settings(validate_events=False))


def record(version: int, kind: str, **data: Any) -> EventRecord:
    return EventRecord(
        event_id=str(uuid.uuid4()),
        type=kind,
        version=version,
        occurred_at=T0 + timedelta(seconds=version),
        data=data,
        correlation_id=str(uuid.uuid4()),
    )


def created(method: str = "card", decision: str = "approve", **extra: Any) -> EventRecord:
    data: dict[str, Any] = {
        "payment_id": PAYMENT_ID,
        "merchant_id": "qa-ee15ca91bdcc",
        "ref_payco": "100000109",
        "reference": "order-797e8b004ca2",
        "description": "QA order",
        "method": method,
        "amount": "40000.00",
        "currency": "COP",
        "customer": {"email": "payer@example.com", "name": "Ana"},
        "idempotency_key": "k-1",
        "request_hash": "h",
        "antifraud": {"decision": decision, "score": 10, "reasons": []},
        **extra,
    }
    return record(1, domain.CREATED, **data)


def publish_stream(records: list[EventRecord]) -> CapturingSession:
    """Fold the stream and publish each event as `projection.apply` does."""
    session = CapturingSession()
    state: PaymentState | None = None
    for event in records:
        state = domain.evolve(state, event)
        projection.publish(session, state, event)  # type: ignore[arg-type]
    return session


def test_an_approved_then_refunded_card_payment_publishes_valid_events() -> None:
    session = publish_stream(
        [
            created(),
            record(2, domain.PROCESSED, outcome="approved", reason=None, authorization_id="a1"),
            record(3, domain.COMPLETED, status="approved", reason=None),
            record(4, domain.REFUNDED, refund_id="rf_2492b2d56c74", amount="40000.00"),
        ]
    )
    types = [e["type"] for e in session.events()]
    assert types == [
        "PaymentCreated",
        "PaymentProcessingStarted",
        "PaymentCompleted",
        "PaymentNotificationRequested",
        "PaymentRefunded",
        "PaymentNotificationRequested",
    ]
    for envelope in session.events():
        validate(envelope)


def test_every_outcome_a_merchant_confirms_goes_to_its_queue() -> None:
    """Held, completed, failed, refunded: each to merchant-ops, whatever SNS delivers."""
    from paylab.merchant.webhooks import PAYMENT_OUTCOMES

    streams = [
        [created(), record(2, domain.FAILED, status="rejected", reason="declined")],
        [
            created(decision="review"),
            record(2, domain.HELD_FOR_REVIEW, reason="antifraud_review"),
            record(3, domain.REVIEWED, decision="approve", reason=None),
            record(4, domain.PROCESSED, outcome="approved", reason=None, authorization_id="a1"),
            record(5, domain.COMPLETED, status="approved", reason=None),
            record(6, domain.REFUNDED, refund_id="rf_1", amount="40000.00"),
        ],
    ]
    queued = {
        payload["type"]
        for stream in streams
        for payload, where in publish_stream(stream).outbox
        if "sqs:merchant-ops" in where
    }
    assert queued == PAYMENT_OUTCOMES


def test_partial_refunds_publish_valid_events_with_what_each_gave_back() -> None:
    session = publish_stream(
        [
            created(),
            record(2, domain.PROCESSED, outcome="approved", reason=None, authorization_id="a1"),
            record(3, domain.COMPLETED, status="approved", reason=None),
            record(4, domain.REFUNDED, refund_id="rf_1", amount="15000.00"),
            record(5, domain.REFUNDED, refund_id="rf_2", amount="25000.00"),
        ]
    )
    refunds = [e["data"] for e in session.events("PaymentRefunded")]
    assert [(d["status"], d["refund_amount"], d["refunded_amount"]) for d in refunds] == [
        ("approved", "15000.00", "15000.00"),
        ("reversed", "25000.00", "40000.00"),
    ]
    for envelope in session.events():
        validate(envelope)


@pytest.mark.parametrize(
    ("method", "status", "reason"),
    [
        ("wallet", "rejected", "insufficient_funds"),
        ("pse", "abandoned", "States.Timeout"),
        ("card", "failed", "TransientError"),
    ],
)
def test_failed_payments_publish_valid_events(method: str, status: str, reason: str) -> None:
    session = publish_stream(
        [
            created(method, customer={}),  # no e-mail: the notification carries null
            record(2, domain.FAILED, status=status, reason=reason),
        ]
    )
    notify = session.events("PaymentNotificationRequested")
    assert notify[0]["data"]["customer_email"] is None
    for envelope in session.events():
        validate(envelope)


def test_an_antifraud_rejection_publishes_valid_events_and_never_starts() -> None:
    session = publish_stream(
        [
            created(decision="reject"),
            record(2, domain.FAILED, status="rejected", reason="antifraud_rejected: blocklist"),
        ]
    )
    assert not session.events("PaymentProcessingStarted")
    for envelope in session.events():
        validate(envelope)


def hold(method: ledger.Method, status: str) -> Hold:
    payer = uuid.uuid4() if method is ledger.Method.WALLET else None
    return Hold(
        id=uuid.uuid4(),
        payment_id=PAYMENT_ID,
        merchant_id="qa-5ded32cbd0ff",
        method=method.value,
        amount=Decimal("40000.00"),
        fee=Decimal("2096.00"),
        currency="COP",
        payer_account_id=payer,
        merchant_account_id=uuid.uuid4(),
        status=status,
        release_reason="rejected" if status == "released" else None,
        created_at=T0,
        resolved_at=None if status == "held" else T0 + timedelta(seconds=2),
    )


@pytest.mark.parametrize("method", list(ledger.Method))
@pytest.mark.parametrize(
    ("event_type", "status"),
    [("FundsReserved", "held"), ("FundsCaptured", "captured"), ("FundsReleased", "released")],
)
def test_wallet_hold_events_are_valid(method: ledger.Method, event_type: str, status: str) -> None:
    session = CapturingSession()
    body = hold_body(hold(method, status))
    wallet_events.funds(session, event_type, body, f"{PAYMENT_ID}:op", "corr-1")  # type: ignore[arg-type]
    (envelope,) = session.events()
    assert envelope["type"] == event_type
    validate(envelope)


def test_balance_updates_and_low_balance_alerts_are_valid() -> None:
    payer, merchant, clearing = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    session = CapturingSession(
        accounts={
            payer: {"merchant_id": "qa-1", "kind": "payer"},
            merchant: {"merchant_id": "qa-1", "kind": "merchant"},
        }
    )
    before = {
        payer: ledger.Balance(available=Decimal("60000.00")),
        merchant: ledger.Balance(available=Decimal("0.00")),
        clearing: ledger.Balance(system=True),
    }
    posting = ledger.reserve(
        ledger.Method.WALLET,
        ledger.Currency.COP,
        Decimal("40000.00"),
        merchant=merchant,
        payer=payer,
    )
    wallet_events.balances_changed(
        session,  # type: ignore[arg-type]
        before,
        ledger.apply(before, posting),
        posting_id=uuid.uuid4(),
        posting=posting,
        payment_id=PAYMENT_ID,
        thresholds={ledger.Currency.COP: Decimal("50000.00"), ledger.Currency.USD: Decimal("20")},
        correlation_id="corr-1",
    )
    assert [e["type"] for e in session.events()] == ["BalanceUpdated", "LowBalanceAlert"]
    for envelope in session.events():
        validate(envelope)


def test_every_type_a_producer_emits_has_a_contract() -> None:
    emitted = {
        "PaymentCreated",
        "PaymentProcessingStarted",
        "PaymentCompleted",
        "PaymentFailed",
        "PaymentRefunded",
        "PaymentHeld",
        "PaymentReviewed",
        "PaymentNotificationRequested",
        "FundsReserved",
        "FundsReleased",
        "FundsCaptured",
        "BalanceUpdated",
        "LowBalanceAlert",
        "DailySummaryRequested",
        "WeeklyReportReady",
        "PayoutAccountChanged",
        "MerchantEmailChanged",
    }
    drafts = {"MerchantRegistered", "DispersionCompleted", "WebhookFailed"}
    assert event_types() == emitted | drafts


def test_the_shared_enums_follow_the_producers_own() -> None:
    defs = schema("common")["$defs"]
    assert set(defs["posting_kind"]["enum"]) == {k.value for k in ledger.PostingKind}
    assert set(defs["method"]["enum"]) == {m.value for m in ledger.Method}
    assert set(defs["currency"]["enum"]) == {c.value for c in ledger.Currency}
    assert set(defs["payment_status"]["enum"]) == {s.value for s in domain.Status}
    pairs = {
        (b["properties"]["status"]["const"], b["properties"]["cod_respuesta"]["const"])
        for b in defs["status_and_code"]["oneOf"]
    }
    assert pairs == {(s.value, code) for s, code in domain.COD_RESPUESTA.items()}


@pytest.mark.parametrize("previous", [None, "00999887766"])
def test_a_payout_account_change_matches_its_contract(previous: str | None) -> None:
    from paylab.merchant.models import Merchant
    from paylab.merchant.schemas import PayoutAccountIn
    from paylab.merchant.service import account_changed

    merchant = Merchant(id="qa-ee15ca91bdcc", email="pagos@tienda-qa.co")
    req = PayoutAccountIn(
        bank_code="1007", account_type="savings", account_number="00123456789", holder_name="Ana"
    )
    envelope = account_changed(merchant, req, previous).model_dump(mode="json")
    validate(envelope)
    assert envelope["data"]["account_last4"] == "6789"
    assert envelope["data"]["previous_account_last4"] == (previous[-4:] if previous else None)
    assert "00123456789" not in str(envelope)  # never the whole number
