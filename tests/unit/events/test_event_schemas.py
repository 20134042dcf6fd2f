"""The event contracts: well-formed, strict where they should be, clear when they fail."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from event_capture import CapturingSession
from jsonschema import Draft202012Validator

from paylab.core import event_schemas, outbox
from paylab.core.event_schemas import EventContractError, event_types, schema, validate
from paylab.core.events import Envelope
from paylab.core.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
CONTRACTS = ROOT / "contracts" / "events"
ENVELOPE_FIELDS = ["id", "type", "version", "occurred_at", "source", "subject_id"]
ENVELOPE_FIELDS += ["correlation_id", "data"]


def payment_completed(**data: Any) -> dict[str, Any]:
    """A PaymentCompleted as the payment service writes it (taken from a real outbox row)."""
    return {
        "id": "98652e13-0db1-4b81-b03f-6c23bf440b29",
        "type": "PaymentCompleted",
        "version": 1,
        "occurred_at": "2026-12-04T19:32:38.844754Z",
        "source": "paylab.payment",
        "subject_id": "46598e64-97ef-4f55-84ec-96dd0b1f8d15",
        "correlation_id": "3d447f11-458e-4f69-b4ff-57fe175fd3ae",
        "data": {
            "payment_id": "46598e64-97ef-4f55-84ec-96dd0b1f8d15",
            "merchant_id": "qa-5ded32cbd0ff",
            "ref_payco": "100000108",
            "reference": "order-7976e7972dd4",
            "method": "wallet",
            "amount": "40000.00",
            "currency": "COP",
            "status": "approved",
            "cod_respuesta": 1,
            "reason": None,
            **data,
        },
    }


def test_the_package_ships_exactly_the_repository_contracts() -> None:
    shipped = {p.name for p in event_schemas.schema_dir().iterdir() if p.name.endswith(".json")}
    assert shipped == {p.name for p in CONTRACTS.glob("*.schema.json")}


@pytest.mark.parametrize("name", sorted(p.name for p in CONTRACTS.glob("*.schema.json")))
def test_each_schema_is_valid_2020_12_and_named_after_its_type(name: str) -> None:
    document = json.loads((CONTRACTS / name).read_text())
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"].endswith("/" + name)
    stem = name.removesuffix(".schema.json")
    if stem not in event_schemas.SHARED:
        assert document["properties"]["type"] == {"const": stem}
        assert {"$ref": "envelope.schema.json"} in document["allOf"]
        assert document["properties"]["data"].get("additionalProperties") is False


def test_the_envelope_requires_exactly_the_architecture_fields() -> None:
    envelope = schema("envelope")
    assert envelope["required"] == ENVELOPE_FIELDS
    assert envelope["additionalProperties"] is False
    assert set(Envelope.model_fields) == set(ENVELOPE_FIELDS)


def test_drafts_are_marked_in_the_schema_and_the_readme() -> None:
    drafts = {t for t in event_types() if "DRAFT" in schema(t).get("$comment", "")}
    assert drafts == {"MerchantRegistered", "WebhookFailed"}
    readme = (CONTRACTS / "README.md").read_text()
    assert all(d in readme.split("## Drafts")[1] for d in drafts)


def test_a_valid_event_passes() -> None:
    validate(payment_completed())


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"amount": 40000.0}, "$.data.amount"),  # a float, never
        ({"amount": "40000"}, "$.data.amount"),  # two decimals
        ({"amount": "0.00"}, "$.data.amount"),  # a payment moves money
        ({"currency": "EUR"}, "$.data.currency"),
        ({"method": "cash"}, "$.data.method"),
        ({"status": "rejected", "cod_respuesta": 2}, "$.data.status"),  # not for Completed
        ({"cod_respuesta": 4}, "$.data"),  # approved is 1
        ({"payment_id": "p-1"}, "$.data.payment_id"),
        ({"card_token": "tok_1"}, "$.data"),  # unknown fields are refused
    ],
)
def test_a_broken_field_fails_naming_the_type_and_the_path(
    change: dict[str, Any], path: str
) -> None:
    with pytest.raises(EventContractError) as failed:
        validate(payment_completed(**change))
    assert failed.value.event_type == "PaymentCompleted"
    assert failed.value.path == path
    assert str(failed.value).startswith(f"PaymentCompleted event breaks its contract at {path}")


@pytest.mark.parametrize("missing", ENVELOPE_FIELDS)
def test_every_envelope_field_is_required(missing: str) -> None:
    event = payment_completed()
    del event[missing]
    with pytest.raises(EventContractError):
        validate(event)


def test_the_envelope_refuses_extra_fields_and_a_foreign_source() -> None:
    with pytest.raises(EventContractError, match="trace"):
        validate({**payment_completed(), "trace": "x"})
    with pytest.raises(EventContractError, match=r"\$\.source"):
        validate({**payment_completed(), "source": "paylab.wallet"})


def test_an_unknown_or_missing_type_is_an_error() -> None:
    with pytest.raises(EventContractError, match="no schema PaymentTeleported"):
        validate({**payment_completed(), "type": "PaymentTeleported"})
    with pytest.raises(EventContractError, match="no schema envelope"):
        validate({**payment_completed(), "type": "envelope"})
    without = payment_completed()
    del without["type"]
    with pytest.raises(EventContractError, match=r"at type"):
        validate(without)


def test_notification_requests_tie_status_to_the_event_they_announce() -> None:
    event = payment_completed(
        event_type="PaymentCompleted", customer_email="payer@example.com", reason=None
    )
    event["type"] = "PaymentNotificationRequested"
    validate(event)
    refunded = copy.deepcopy(event)
    refunded["data"]["event_type"] = "PaymentRefunded"  # a refund names what it gave back
    with pytest.raises(EventContractError, match=r"\$\.data"):
        validate(refunded)
    refunded["data"] |= {"refund_id": "rf_1", "refund_amount": "100.00"}
    refunded["data"]["refunded_amount"] = "100.00"
    validate(refunded)  # a partial refund: the payment is still approved
    refunded["data"] |= {"status": "rejected", "cod_respuesta": 2}
    with pytest.raises(EventContractError, match=r"\$\.data"):
        validate(refunded)  # only an approved payment is refunded


def test_add_event_validates_when_the_setting_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = Envelope(
        type="FundsReserved",
        source="paylab.wallet",
        subject_id="p-1",
        correlation_id="c",
        data={"seq": 1},
    )
    monkeypatch.setattr(outbox, "get_settings", lambda: Settings(validate_events=True))
    session = CapturingSession()
    with pytest.raises(EventContractError, match="FundsReserved"):
        outbox.add_event(session, "wallet", broken, ["sns:wallet-events"])  # type: ignore[arg-type]
    assert session.outbox == []  # nothing written
    monkeypatch.setattr(outbox, "get_settings", lambda: Settings(validate_events=False))
    outbox.add_event(session, "wallet", broken, ["sns:wallet-events"])  # type: ignore[arg-type]
    assert [p["id"] for p, _ in session.outbox] == [broken.id]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PAYLAB_TARGET": "local"}, True),
        ({"PAYLAB_TARGET": "aws"}, False),
        ({"PAYLAB_TARGET": "aws", "PAYLAB_VALIDATE_EVENTS": "1"}, True),
        ({"PAYLAB_TARGET": "local", "PAYLAB_VALIDATE_EVENTS": "false"}, False),
    ],
)
def test_validation_is_on_locally_and_off_on_aws_unless_set(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: bool
) -> None:
    monkeypatch.delenv("PAYLAB_VALIDATE_EVENTS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert Settings().events_validated() is expected


def test_event_ids_must_be_uuids() -> None:
    with pytest.raises(EventContractError, match=r"at \$\.id"):
        validate({**payment_completed(), "id": "e1"})
    validate({**payment_completed(), "id": str(uuid.uuid4())})
