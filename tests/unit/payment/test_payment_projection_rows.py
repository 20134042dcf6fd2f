"""The projection's row mapping and the replay comparison (pure)."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

from test_payment_domain import created, ev

from paylab.payment import domain
from paylab.payment.domain import EventRecord, Status
from paylab.payment.projection import from_row, public_view, to_row
from paylab.payment.replay import differences, printable


def test_a_row_holds_exactly_the_state() -> None:
    state = domain.fold(
        [created(), ev(2, domain.FAILED, status="rejected", reason="antifraud_rejected: x")]
    )
    assert state is not None
    row = to_row(state)
    assert row["cod_respuesta"] == 2 and row["status"] == "rejected"
    assert from_row(row) == state


def test_a_partially_refunded_row_keeps_its_refunds_and_prints_as_json() -> None:
    state = domain.fold(
        [
            created(),
            ev(2, domain.COMPLETED, status="approved", reason=None),
            ev(3, domain.REFUNDED, refund_id="rf_1", amount="100.00"),
        ]
    )
    assert state is not None
    row = to_row(state)
    assert (row["refunded_amount"], row["refund_ids"]) == (Decimal("100.00"), ["rf_1"])
    assert from_row(row) == state
    printed = json.loads(json.dumps(printable(state)))
    assert (printed["refunded_amount"], printed["refund_ids"]) == ("100.00", ["rf_1"])


def test_differences_name_each_field() -> None:
    state = domain.fold([created()])
    assert state is not None
    behind = dataclasses.replace(state, version=0, status=Status.APPROVED)
    assert differences(state, state) == {}
    assert set(differences(state, behind)) == {"version", "status"}
    assert differences(state, None) != {}


def test_public_view_has_no_tokens_or_idempotency_data() -> None:
    state = domain.fold([created()])
    assert state is not None
    view = public_view(state)
    assert view["amount"] == "30000.00" and view["cod_respuesta"] == 3
    text = repr(view)
    for secret in ("tok_", "request_hash", "idempotency", "k-1"):
        assert secret not in text
    assert isinstance(state.amount, Decimal)


def test_event_records_are_immutable() -> None:
    record: EventRecord = created()
    assert dataclasses.is_dataclass(record)
