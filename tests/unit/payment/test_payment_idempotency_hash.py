"""Request hashing for Idempotency-Key: same JSON, same hash; any change, another hash."""

from __future__ import annotations

from paylab.payment.idempotency import request_hash


def test_key_order_and_spacing_do_not_matter() -> None:
    a = {"amount": "1.00", "customer": {"email": "a@b.co", "name": "A"}}
    b = {"customer": {"name": "A", "email": "a@b.co"}, "amount": "1.00"}
    assert request_hash(a) == request_hash(b)


def test_any_value_change_changes_the_hash() -> None:
    base = {"amount": "1.00", "reference": "r", "nested": {"x": [1, 2]}}
    assert request_hash(base) != request_hash({**base, "amount": "1.01"})
    assert request_hash(base) != request_hash({**base, "nested": {"x": [2, 1]}})
    assert request_hash(base) != request_hash({**base, "extra": None})


def test_the_hash_is_a_hex_sha256() -> None:
    digest = request_hash({"a": "ñ"})
    assert len(digest) == 64 and int(digest, 16) >= 0
