"""The hash chain, without I/O: canonical content, row links, and a walk that finds breaks.

Each row is linked to the one before it:

    content_hash = sha256(canonical envelope)
    row_hash     = sha256(prev_hash || content_hash || seq as 8 bytes, big-endian)

with `prev_hash` the previous row's `row_hash` (GENESIS for seq 1). Changing, removing or
reordering any row breaks a link that `ChainWalk` reports, naming the first broken row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from paylab.core.events import Envelope

HASH_BYTES = 32
# The first row's prev_hash: fixed, so a chain can be verified from nothing but its rows.
GENESIS = bytes(HASH_BYTES)


class InvalidEvent(ValueError):
    """An envelope the log cannot store as is (e.g. NUL characters, lone surrogates)."""


def canonical(envelope: Envelope) -> bytes:
    """The envelope as canonical JSON: sorted keys, no spaces, UTF-8 (what the hash covers)."""
    return canonical_json(envelope.model_dump(mode="json"))


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """`document` as canonical JSON bytes; InvalidEvent when it has no canonical form."""
    try:
        text = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        return text.encode("utf-8")
    except (ValueError, TypeError) as exc:  # NaN/inf, lone surrogates, odd types
        raise InvalidEvent(f"the event has no canonical JSON form: {exc}") from exc


def sha256(data: bytes) -> bytes:
    """The SHA-256 digest of `data`."""
    return hashlib.sha256(data).digest()


def link(prev_hash: bytes, content_hash: bytes, seq: int) -> bytes:
    """The row hash of row `seq` whose content hashes to `content_hash`, after `prev_hash`."""
    return sha256(prev_hash + content_hash + seq.to_bytes(8, "big"))


@dataclass(frozen=True)
class Columns:
    """What the table keeps next to the content, for queries; always derived from the content."""

    event_id: str
    type: str
    source: str
    subject_id: str
    merchant_id: str | None
    occurred_at: datetime


def columns(document: Mapping[str, Any]) -> Columns:
    """The indexed columns of an envelope document (as `canonical` dumps it)."""
    data = document.get("data")
    merchant = data.get("merchant_id") if isinstance(data, Mapping) else None
    values = Columns(
        event_id=str(document["id"]),
        type=str(document["type"]),
        source=str(document["source"]),
        subject_id=str(document["subject_id"]),
        # Payment and wallet events carry the owning merchant in `data`; others belong to none.
        merchant_id=merchant if isinstance(merchant, str) and merchant else None,
        occurred_at=_aware(datetime.fromisoformat(str(document["occurred_at"]))),
    )
    texts = (values.event_id, values.type, values.source, values.subject_id, values.merchant_id)
    if any(t is not None and "\x00" in t for t in texts):
        raise InvalidEvent("NUL characters in the event's id, type, source or subject")
    return values


def _aware(moment: datetime) -> datetime:
    # timestamptz has no naive values: a time without an offset is taken as UTC, both ways.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    """One stored row, as `verify` reads it back."""

    seq: int
    event_id: str
    type: str
    source: str
    subject_id: str
    merchant_id: str | None
    occurred_at: datetime
    content: str
    content_hash: bytes
    prev_hash: bytes
    row_hash: bytes


@dataclass(frozen=True)
class Broken:
    """The first row that fails a check, and why."""

    seq: int
    event_id: str | None
    merchant_id: str | None
    reason: str


@dataclass
class ChainWalk:
    """Checks rows in seq order, one batch at a time, keeping only the last link (O(1) memory)."""

    expected_seq: int = 1
    prev_hash: bytes = GENESIS
    checked: int = 0
    broken: Broken | None = field(default=None)

    def feed(self, rows: Iterable[Row]) -> bool:
        """Check `rows` (the next ones in order); False once a row is broken (stop reading)."""
        for row in rows:
            if self.broken is not None:
                return False
            self.checked += 1
            reason = self._check(row)
            if reason is not None:
                self.broken = Broken(row.seq, row.event_id, row.merchant_id, reason)
                return False
            self.expected_seq, self.prev_hash = row.seq + 1, row.row_hash
        return self.broken is None

    def finish(self, head_seq: int, head_hash: bytes) -> Broken | None:
        """After the last row: the head must point at it (else rows went missing at the end)."""
        if self.broken is None and (head_seq, head_hash) != (self.expected_seq - 1, self.prev_hash):
            last = self.expected_seq - 1
            reason = (
                f"the chain head is at seq {head_seq} but the rows end at seq {last}"
                if head_seq != last
                else "the chain head's hash differs from the last row's row_hash"
            )
            self.broken = Broken(max(head_seq, last), None, None, reason)
        return self.broken

    def _check(self, row: Row) -> str | None:
        if row.seq != self.expected_seq:
            return f"seq {row.seq} where {self.expected_seq} was expected (rows missing or moved)"
        if row.prev_hash != self.prev_hash:
            return "prev_hash differs from the previous row's row_hash"
        if sha256(row.content.encode("utf-8")) != row.content_hash:
            return "content does not match content_hash"
        if link(row.prev_hash, row.content_hash, row.seq) != row.row_hash:
            return "row_hash does not match prev_hash, content_hash and seq"
        return _columns_problem(row)


def _columns_problem(row: Row) -> str | None:
    """The indexed columns must say what the (hashed) content says: they decide who sees a row."""
    try:
        expected = columns(json.loads(row.content))
    except (ValueError, KeyError, TypeError) as exc:
        return f"content is not a valid envelope: {exc}"
    stored = Columns(
        row.event_id, row.type, row.source, row.subject_id, row.merchant_id, row.occurred_at
    )
    for name in Columns.__dataclass_fields__:
        if getattr(stored, name) != getattr(expected, name):
            return f"column {name} differs from the content"
    return None
