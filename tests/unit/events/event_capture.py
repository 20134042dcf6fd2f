"""A stand-in Session for the producers' own code: records outbox rows, answers wallet lookups."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID


@dataclass
class Rows:
    """What `all()` answers for a SELECT."""

    rows: list[tuple[Any, ...]]

    def all(self) -> list[tuple[Any, ...]]:
        return self.rows


@dataclass
class CapturingSession:
    """Keeps the payload and destinations of every outbox INSERT; no database involved."""

    accounts: dict[UUID, dict[str, str]] = field(default_factory=dict)
    outbox: list[tuple[dict[str, Any], list[str]]] = field(default_factory=list)

    def execute(self, statement: Any, params: dict[str, Any] | None = None) -> Rows:
        if params and "payload" in params:
            self.outbox.append((json.loads(params["payload"]), list(params["destinations"])))
            return Rows([])
        if params is not None:  # pg_notify
            return Rows([])
        # wallet.events looks up owners and kinds: SELECT accounts.id, accounts.<columns> ...
        columns = [c.name for c in statement.selected_columns][1:]
        ids = statement.whereclause.right.value
        return Rows([(i, *(self.accounts[i][c] for c in columns)) for i in ids])

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """The captured envelopes, optionally of one type."""
        return [p for p, _ in self.outbox if event_type is None or p["type"] == event_type]
