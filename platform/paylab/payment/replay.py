"""Rebuild a payment from its events and compare it with its Postgres row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paylab.core.money import fmt
from paylab.payment import domain
from paylab.payment.domain import PaymentState
from paylab.payment.repository import PaymentRepository


@dataclass(frozen=True)
class Replay:
    """The folded state, the projected row, and where they differ."""

    events: int
    folded: PaymentState | None
    projected: PaymentState | None
    differences: dict[str, tuple[Any, Any]]

    @property
    def matches(self) -> bool:
        """True when the row is exactly the fold of the events."""
        return self.folded is not None and not self.differences


def differences(
    folded: PaymentState | None, projected: PaymentState | None
) -> dict[str, tuple[Any, Any]]:
    """Field → (from the events, from the row), for every field that differs."""
    if folded is None or projected is None:
        return {} if folded is projected else {"payment": (folded, projected)}
    left, right = folded.as_dict(), projected.as_dict()
    return {k: (left[k], right[k]) for k in left if left[k] != right[k]}


def replay(repo: PaymentRepository, payment_id: str) -> Replay:
    """Fold the whole stream (read from the store) and compare with the row."""
    events = repo.store.load(payment_id)
    folded = domain.fold(events)
    projected = repo.get(payment_id)
    return Replay(len(events), folded, projected, differences(folded, projected))


def printable(state: PaymentState | None) -> dict[str, Any] | None:
    """A state as JSON-friendly values."""
    if state is None:
        return None
    out: dict[str, Any] = {}
    for key, value in state.as_dict().items():
        if key in ("amount", "refunded_amount"):
            value = fmt(value)
        elif key == "refund_ids":
            value = list(value)
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        elif key == "customer":
            value = dict(value)
        out[key] = value
    out["cod_respuesta"] = state.cod_respuesta
    return out
