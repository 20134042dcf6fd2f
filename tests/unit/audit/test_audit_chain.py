"""The hash chain without a database: canonical form, links, and finding the first broken row."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from paylab.audit import chain
from paylab.audit.chain import ChainWalk, Row
from paylab.core.events import Envelope

T0 = datetime(2026, 12, 4, 15, 30, 0, 123456, tzinfo=UTC)


def envelope(i: int, merchant: str | None = "m-1", **data: object) -> Envelope:
    body = {"payment_id": f"pay-{i}", "amount": "30000.00", **data}
    if merchant is not None:
        body["merchant_id"] = merchant
    return Envelope(
        id=f"evt-{i}",
        type="PaymentCreated",
        occurred_at=T0 + timedelta(seconds=i),
        source="paylab.payment",
        subject_id=f"pay-{i}",
        correlation_id=f"corr-{i}",
        data=body,
    )


def build(envelopes: list[Envelope]) -> list[Row]:
    """Rows as the service appends them: each linked to the one before."""
    rows, prev = [], chain.GENESIS
    for seq, env in enumerate(envelopes, start=1):
        content = chain.canonical(env)
        cols = chain.columns(env.model_dump(mode="json"))
        content_hash = chain.sha256(content)
        row_hash = chain.link(prev, content_hash, seq)
        rows.append(
            Row(
                seq,
                cols.event_id,
                cols.type,
                cols.source,
                cols.subject_id,
                cols.merchant_id,
                cols.occurred_at,
                content.decode(),
                content_hash,
                prev,
                row_hash,
            )
        )
        prev = row_hash
    return rows


def walk(rows: list[Row], batch: int = 3, head: tuple[int, bytes] | None = None) -> ChainWalk:
    w = ChainWalk()
    for start in range(0, len(rows), batch):
        if not w.feed(rows[start : start + batch]):
            break
    last = (rows[-1].seq, rows[-1].row_hash) if rows else (0, chain.GENESIS)
    w.finish(*(head or last))
    return w


# ---------------------------------------------------------------- canonical form


def test_canonical_is_sorted_compact_utf8() -> None:
    env = envelope(1, customer={"name": "Ana Gómez", "a": 1})
    text = chain.canonical(env)
    assert b" " not in text.replace(b"Ana G", b"")  # no separators' spaces
    assert "Gómez".encode() in text  # raw UTF-8, not \u escapes
    doc = json.loads(text)
    assert list(doc) == sorted(doc)
    assert list(doc["data"]["customer"]) == ["a", "name"]
    assert text.startswith(
        '{"correlation_id":"corr-1","data":{"amount":"30000.00","customer":{"a":1,'
        '"name":"Ana Gómez"},"merchant_id":"m-1"'.encode()
    )
    assert text.endswith(b'"subject_id":"pay-1","type":"PaymentCreated","version":1}')
    assert b'"occurred_at":"2026-12-04T15:30:01.123456Z"' in text


def test_the_same_event_from_any_wire_form_has_one_canonical_form() -> None:
    env = envelope(7)
    wire = json.loads(env.to_json())
    shuffled = json.dumps(dict(reversed(list(wire.items()))), indent=2)  # other order, spaces
    again = Envelope.model_validate_json(shuffled)
    assert chain.canonical(again) == chain.canonical(env)
    assert chain.sha256(chain.canonical(again)) == hashlib.sha256(chain.canonical(env)).digest()


def test_a_changed_field_changes_the_canonical_form() -> None:
    a, b = envelope(1), envelope(1, amount="30000.01")
    assert chain.canonical(a) != chain.canonical(b)


def test_events_without_a_canonical_form_are_invalid() -> None:
    with pytest.raises(chain.InvalidEvent):
        chain.canonical(envelope(1, odd="\ud800"))  # a lone surrogate has no UTF-8 form
    with pytest.raises(chain.InvalidEvent):
        chain.canonical_json({"amount": float("nan")})


def test_columns_come_from_the_envelope() -> None:
    cols = chain.columns(envelope(3).model_dump(mode="json"))
    assert (cols.event_id, cols.subject_id, cols.merchant_id) == ("evt-3", "pay-3", "m-1")
    assert cols.occurred_at == T0 + timedelta(seconds=3)
    assert chain.columns(envelope(3, merchant=None).model_dump(mode="json")).merchant_id is None
    weird = envelope(3, merchant=None, merchant_id=42).model_dump(mode="json")
    assert chain.columns(weird).merchant_id is None  # only a string names a merchant


def test_naive_times_are_utc_and_nul_characters_are_refused() -> None:
    doc = envelope(1).model_dump(mode="json")
    doc["occurred_at"] = "2026-12-04T15:30:00"
    assert chain.columns(doc).occurred_at == datetime(2026, 12, 4, 15, 30, tzinfo=UTC)
    doc["subject_id"] = "pay\x001"
    with pytest.raises(chain.InvalidEvent):
        chain.columns(doc)


def test_link_covers_previous_hash_content_and_position() -> None:
    prev, content = chain.sha256(b"prev"), chain.sha256(b"content")
    expected = hashlib.sha256(prev + content + (5).to_bytes(8, "big")).digest()
    assert chain.link(prev, content, 5) == expected
    assert chain.link(prev, content, 6) != expected
    assert chain.link(chain.GENESIS, content, 5) != expected


# ---------------------------------------------------------------- walking the chain


@pytest.mark.parametrize("batch", [1, 2, 5, 100])
def test_an_intact_chain_verifies_in_any_batch_size(batch: int) -> None:
    rows = build([envelope(i) for i in range(10)])
    w = walk(rows, batch)
    assert (w.broken, w.checked) == (None, 10)


def test_an_empty_chain_verifies() -> None:
    w = walk([])
    assert (w.broken, w.checked) == (None, 0)


def replace(rows: list[Row], seq: int, **changes: object) -> list[Row]:
    return [dataclasses.replace(r, **changes) if r.seq == seq else r for r in rows]  # type: ignore[arg-type]


def test_changed_content_is_reported_at_its_row() -> None:
    rows = build([envelope(i) for i in range(8)])
    forged = rows[4].content.replace("30000.00", "3000000.00")
    w = walk(replace(rows, 5, content=forged))
    assert w.broken is not None
    assert (w.broken.seq, w.broken.event_id) == (5, rows[4].event_id)
    assert "content_hash" in w.broken.reason
    assert w.checked == 5  # stops at the first break


def test_changed_content_with_a_recomputed_content_hash_breaks_the_row_hash() -> None:
    rows = build([envelope(i) for i in range(8)])
    forged = rows[2].content.replace("30000.00", "1.00")
    w = walk(replace(rows, 3, content=forged, content_hash=chain.sha256(forged.encode())))
    assert w.broken is not None and w.broken.seq == 3
    assert "row_hash" in w.broken.reason


def test_a_fully_rehashed_row_breaks_the_next_link() -> None:
    rows = build([envelope(i) for i in range(8)])
    forged = rows[2].content.replace("30000.00", "1.00")
    content_hash = chain.sha256(forged.encode())
    row_hash = chain.link(rows[2].prev_hash, content_hash, 3)
    tampered = replace(rows, 3, content=forged, content_hash=content_hash, row_hash=row_hash)
    w = walk(tampered)
    assert w.broken is not None and w.broken.seq == 4
    assert "prev_hash" in w.broken.reason


def test_a_deleted_row_is_reported_where_the_gap_is() -> None:
    rows = build([envelope(i) for i in range(8)])
    w = walk([r for r in rows if r.seq != 6])
    assert w.broken is not None and w.broken.seq == 7
    assert "6 was expected" in w.broken.reason


def test_rows_deleted_at_the_end_show_at_the_head() -> None:
    rows = build([envelope(i) for i in range(8)])
    w = walk(rows[:6], head=(8, rows[-1].row_hash))
    assert w.broken is not None
    assert (w.broken.seq, w.broken.event_id) == (8, None)
    assert "head" in w.broken.reason
    w = walk(rows, head=(8, chain.sha256(b"other")))
    assert w.broken is not None and "head" in w.broken.reason


def test_a_column_that_disagrees_with_the_content_is_reported() -> None:
    rows = build([envelope(i) for i in range(4)])
    w = walk(replace(rows, 2, merchant_id="m-2"))  # would show the row to another merchant
    assert w.broken is not None and w.broken.seq == 2
    assert w.broken.reason == "column merchant_id differs from the content"


def test_content_that_is_not_an_envelope_is_reported() -> None:
    rows = build([envelope(i) for i in range(3)])
    junk = "not json"
    content_hash = chain.sha256(junk.encode())
    fixed = build([envelope(i) for i in range(3)])
    row_hash = chain.link(fixed[0].prev_hash, content_hash, 1)
    w = walk(replace(rows, 1, content=junk, content_hash=content_hash, row_hash=row_hash))
    assert w.broken is not None and w.broken.seq == 1
    assert "not a valid envelope" in w.broken.reason
