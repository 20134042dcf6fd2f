"""The event envelope every Paylab event travels in (ARCHITECTURE §3)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field


class Envelope(BaseModel):
    """`{id, type, version, occurred_at, source, subject_id, correlation_id, data}`."""

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    type: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    source: str
    subject_id: str
    correlation_id: str
    data: dict[str, Any]

    def to_json(self) -> str:
        """Wire form: ISO timestamps, decimals already as strings in `data`."""
        return self.model_dump_json()


def from_eventbridge(body: str) -> Envelope:
    """The Envelope in an EventBridge event's `detail` (what a rule's SQS target receives)."""
    event = json.loads(body)
    if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
        raise ValueError("not an EventBridge event with an object detail")
    return Envelope.model_validate(event["detail"])
