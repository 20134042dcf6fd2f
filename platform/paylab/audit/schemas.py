"""What the audit API answers (the log's rows as merchants see them, and the chain's health)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditEvent(BaseModel):
    """One stored event: the envelope, where it sits in the chain, and its hashes (hex)."""

    seq: int
    event_id: str
    type: str
    version: int
    source: str
    subject_id: str
    correlation_id: str
    occurred_at: datetime
    recorded_at: datetime
    data: dict[str, Any]
    content_hash: str = Field(description="SHA-256 of the canonical envelope, hex.")
    prev_hash: str = Field(description="The previous row's row_hash, hex.")
    row_hash: str = Field(description="SHA-256(prev_hash || content_hash || seq), hex.")


class EventPage(BaseModel):
    """A page of a subject's events, oldest first."""

    subject_id: str
    items: list[AuditEvent]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next, newer page.")


class BrokenRow(BaseModel):
    """The first row that fails verification."""

    seq: int
    event_id: str | None = Field(
        description="Null when the break is not one row's (rows missing at the end), or the "
        "row is another merchant's."
    )
    reason: str


class Verification(BaseModel):
    """The whole chain walked from the first row: intact or not, and where it first breaks."""

    ok: bool
    rows_checked: int
    first_broken: BrokenRow | None
