"""GET /v1/notifications: each merchant sees only its own, filtered, newest first, paginated."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from paylab.notification.service import NotificationService

from .conftest import as_merchant, mobile, payment_event, uid


def listing(client: TestClient, merchant_id: str, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/notifications", params=params, headers=as_merchant(merchant_id))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_merchant_sees_only_its_own_notifications(
    client: TestClient, service: NotificationService
) -> None:
    alice, bob = uid("merchant"), uid("merchant")
    alice_event = payment_event(alice, email=f"{uid('a')}@example.com", phone=mobile())
    bob_event = payment_event(bob, email=f"{uid('b')}@example.com", phone=None)
    service.notify(alice_event)
    service.notify(bob_event)

    mine = listing(client, alice)["items"]
    assert {(n["event_id"], n["channel"]) for n in mine} == {
        (alice_event.id, "email"),
        (alice_event.id, "sms"),
    }
    assert all(n["merchant_id"] == alice and n["status"] == "sent" for n in mine)
    assert [n["event_id"] for n in listing(client, bob)["items"]] == [bob_event.id]
    # Knowing another merchant's ids does not help.
    assert listing(client, bob, event_id=alice_event.id)["items"] == []
    assert listing(client, bob, subject_id=alice_event.subject_id)["items"] == []


def test_filters_and_pages_newest_first(client: TestClient, service: NotificationService) -> None:
    merchant = uid("merchant")
    events = [
        payment_event(merchant, email=f"{uid('c')}@example.com", phone=mobile()) for _ in range(3)
    ]
    for event in events:
        service.notify(event)

    everything = listing(client, merchant)["items"]
    assert len(everything) == 6
    assert [n["event_id"] for n in everything[::2]] == [e.id for e in reversed(events)]

    by_payment = listing(client, merchant, subject_id=events[0].subject_id)["items"]
    assert {n["channel"] for n in by_payment} == {"email", "sms"}
    sms = listing(client, merchant, channel="sms", status="sent")["items"]
    assert [n["event_id"] for n in sms] == [e.id for e in reversed(events)]
    assert listing(client, merchant, status="failed")["items"] == []
    email = listing(client, merchant, event_id=events[1].id, channel="email")["items"]
    assert len(email) == 1 and email[0]["subject"].startswith("Comprobante de pago")

    seen, cursor = [], None
    while True:
        page = listing(client, merchant, limit=4, **({"cursor": cursor} if cursor else {}))
        seen += [n["id"] for n in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [n["id"] for n in everything]


def test_bad_queries_are_problems_not_500s(client: TestClient) -> None:
    merchant = as_merchant(uid("merchant"))
    for params in (
        {"limit": 0},
        {"limit": 201},
        {"cursor": "abc"},
        {"channel": "fax"},
        {"status": "lost"},
        {"subject_id": ""},
    ):
        response = client.get("/v1/notifications", params=params, headers=merchant)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert (
        client.get("/v1/notifications").status_code == 401
    )  # no merchant: not through the gateway
