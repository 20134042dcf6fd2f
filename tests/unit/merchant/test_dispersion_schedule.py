"""The business date a scheduled run works on, the webhook form and the event contract."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from paylab.core.event_schemas import validate
from paylab.core.job_runs import eventbridge_scheduled_event
from paylab.lambdas._schedule import business_date
from paylab.merchant.dispersion import Payee, Row
from paylab.merchant.dispersion_clients import BankPayouts
from paylab.merchant.dispersion_store import completed_event, dispersion_form
from paylab.merchant.models import Dispersion
from paylab.merchant.webhooks import signature, signature_valid


def scheduled(time: str) -> dict[str, Any]:
    return eventbridge_scheduled_event(
        time,
        rule_arn="arn:aws:events:us-east-1:000000000000:rule/paylab-dispersion",
        account="000000000000",
        region="us-east-1",
    )


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("2026-12-05T05:00:00Z", date(2026, 12, 4)),  # 00:00 Bogota on the 5th
        ("2026-12-05T05:00:41Z", date(2026, 12, 4)),  # EventBridge fires a little late
        ("2027-01-01T05:00:00Z", date(2026, 12, 31)),  # across the year
        ("2026-12-05T04:59:59Z", date(2026, 12, 3)),  # still the 4th in Bogota
        ("2026-12-05T00:00:00-05:00", date(2026, 12, 4)),  # `jobs run --at` style offset
    ],
)
def test_business_date_is_the_bogota_day_that_just_ended(time: str, expected: date) -> None:
    assert business_date(scheduled(time)) == expected


@pytest.mark.parametrize(
    "event", [{}, {"time": ""}, {"time": "yesterday"}, {"time": "2026-12-05T05:00:00"}]
)
def test_an_event_without_a_usable_time_is_refused(event: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="scheduled event"):
        business_date(event)


def paid_row() -> Dispersion:
    return Dispersion(
        id=uuid.uuid4(),
        merchant_id="mch_0123456789abcdef01234567",
        business_date=date(2026, 12, 4),
        status="paid",
        attempt=2,
        amount=Decimal("123456.70"),
        currency="COP",
        bank_account_last4="6789",
        wallet_payout_id=uuid.uuid4(),
        bank_payout_id="po_42",
        bank_status="paid",
    )


def test_dispersion_completed_follows_its_contract() -> None:
    now = datetime(2026, 12, 5, 5, 0, 3, tzinfo=UTC)
    event = completed_event(paid_row(), "pagos@tienda.co", now)
    payload = event.to_json()
    validate(__import__("json").loads(payload))
    assert event.data["amount"] == "123456.70" and event.data["bank_account"] == "****6789"


def test_the_dispersion_webhook_verifies_like_a_payment_confirmation() -> None:
    row = paid_row()
    form = dispersion_form(row, datetime(2026, 12, 5, 5, 0, tzinfo=UTC), test=True)
    form["x_cust_id_cliente"] = "500001"
    form["x_signature"] = signature("500001", "k" * 40, form)
    assert signature_valid("500001", "k" * 40, form)
    assert form["x_type"] == "dispersion" and form["x_ref_payco"] == str(row.id)
    assert form["x_transaction_date"] == "2026-12-05 00:00:00"  # Bogota time
    tampered = {**form, "x_amount": "999999.00"}
    assert not signature_valid("500001", "k" * 40, tampered)


def bank(handler: Any) -> BankPayouts:
    return BankPayouts(
        httpx.Client(base_url="http://bank", transport=httpx.MockTransport(handler)), 2
    )


ROW = Row(uuid.uuid4(), "mch_1", date(2026, 12, 4), "pending", 1, Decimal("50000.00"), "COP")
PAYEE = Payee(
    "mch_1", "a@b.co", Decimal(1), "NIT", "900123456-8", "1007", "savings", "00123456789", "T"
)


def test_the_bank_client_sends_the_key_and_maps_answers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            201, json={"id": "po_1", "status": "rejected", "failure_reason": "account_closed"}
        )

    answer = bank(handler).pay(ROW.operation_id, ROW, PAYEE)
    assert (answer.status, answer.payout_id, answer.reason) == (
        "rejected",
        "po_1",
        "account_closed",
    )
    assert seen[0].headers["Idempotency-Key"] == f"{ROW.id}:1"
    body = __import__("json").loads(seen[0].content)
    assert body["holder_doc_number"] == "900123456" and body["reference"] == f"disp-{ROW.id}"


@pytest.mark.parametrize("status", [500, 503, 409, 429])
def test_unknown_bank_outcomes_are_unavailable_not_refusals(status: int) -> None:
    from paylab.merchant.dispersion import Unavailable

    with pytest.raises(Unavailable):
        bank(lambda _: httpx.Response(status, json={})).pay("k", ROW, PAYEE)


def test_a_bank_4xx_is_a_definitive_refusal() -> None:
    answer = bank(lambda _: httpx.Response(422, json={"detail": "bad account"})).pay(
        "k", ROW, PAYEE
    )
    assert answer.status == "rejected" and "bad account" in (answer.reason or "")


@pytest.mark.parametrize("status", [404, 410, 422])
def test_a_4xx_to_a_payout_status_question_is_unknown_not_a_refusal(status: int) -> None:
    """Returning the money on a 404 the bank may not mean would pay the merchant twice."""
    from paylab.merchant.dispersion import Unavailable

    with pytest.raises(Unavailable):
        bank(lambda _: httpx.Response(status, json={"detail": "no such payout"})).status("po_1")
    answer = bank(lambda _: httpx.Response(200, json={"id": "po_1", "status": "rejected"})).status(
        "po_1"
    )
    assert answer.status == "rejected"


def test_notification_mails_the_merchant_what_dispersion_announces() -> None:
    from paylab.notification.messages import compose

    [draft] = compose(completed_event(paid_row(), "pagos@tienda.co", datetime.now(UTC)))
    assert draft.recipient == "pagos@tienda.co"
    assert draft.subject is not None and draft.subject.startswith("Dispersión del 4 de diciembre")
    assert "6789" in draft.body


def test_the_lambda_asks_the_merchant_service_for_the_day_that_ended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from paylab.lambdas import dispersion

    calls: list[tuple[Any, ...]] = []

    def call(*args: Any) -> dict[str, Any]:
        calls.append(args)
        return {"counts": {"paid": 1}, "results": [{"merchant_id": "m", "result": "paid"}]}

    monkeypatch.setattr(dispersion, "call", call)
    answer = dispersion.handler(scheduled("2026-12-05T05:00:00Z"), None)
    assert calls == [
        ("merchant", "POST", "/internal/dispersions/run", {"business_date": "2026-12-04"})
    ]
    assert answer["business_date"] == "2026-12-04" and answer["counts"] == {"paid": 1}
