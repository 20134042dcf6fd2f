"""Scoring: block lists, amount thresholds and velocity, all editable through the API."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from paylab.core.money import to_decimal
from simulators.antifraud.schemas import EvaluationIn, ListKind, Rules, VelocityLeaseIn
from simulators.seeding import SeededRandom

#: Magic values blocked from start-up (documented in the README, "Simulators").
DEFAULT_LISTS: dict[str, tuple[str, ...]] = {
    "email": ("fraud@paylab.test",),
    "document": ("1000000666",),
    "bin": ("666666",),
    "ip": ("203.0.113.66",),
}
MAX_EVALUATIONS = 100_000
#: Velocity keys (cards, e-mails, IPs) kept before those idle longer than the window are
#: forgotten; the next sweep waits until the survivors have doubled (amortized O(1)).
SWEEP_KEYS = 10_000


@dataclass
class AntifraudState:
    """Rules, lists, attempt history for velocity, and past evaluations."""

    rng: SeededRandom
    clock: Callable[[], float] = time.time
    rules: Rules = field(default_factory=Rules)
    lists: dict[str, set[str]] = field(default_factory=dict)
    attempts: dict[str, deque[float]] = field(default_factory=dict)
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # holder -> (expiry on `clock`, limits): the rules' velocity limits rise to the highest
    # active lease, and fall back by themselves when a holder stops renewing (a killed run).
    leases: dict[str, tuple[float, VelocityLeaseIn]] = field(default_factory=dict)
    sweep_at: int = SWEEP_KEYS

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Default rules and lists, no history."""
        self.rules = Rules()
        self.lists = {k: set(v) for k, v in DEFAULT_LISTS.items()}
        self.attempts.clear()
        self.sweep_at = SWEEP_KEYS
        self.evaluations.clear()
        self.leases.clear()

    def lease(self, holder: str, limits: VelocityLeaseIn) -> float:
        """Take or renew `holder`'s lease; its expiry."""
        expiry = self.clock() + limits.ttl_s
        self.leases[holder] = (expiry, limits)
        return expiry

    def release(self, holder: str) -> bool:
        """End `holder`'s lease; False if it had none (or it had lapsed)."""
        self.active_leases()
        return self.leases.pop(holder, None) is not None

    def active_leases(self) -> dict[str, tuple[float, VelocityLeaseIn]]:
        """The unexpired leases (lapsed ones are dropped)."""
        now = self.clock()
        for holder in [h for h, (expiry, _) in self.leases.items() if expiry <= now]:
            del self.leases[holder]
        return self.leases

    def velocity_limits(self) -> tuple[int, int, int]:
        """(per card, per e-mail, per IP): the rules' limits, raised by any active lease."""
        r = self.rules
        limits = [r.max_per_card, r.max_per_email, r.max_per_ip]
        for _, lease in self.active_leases().values():
            held = (lease.max_per_card, lease.max_per_email, lease.max_per_ip)
            limits = [max(a, b) for a, b in zip(limits, held, strict=True)]
        return limits[0], limits[1], limits[2]

    def evaluate(self, body: EvaluationIn) -> dict[str, Any]:
        """Score one attempt; every attempt counts toward velocity."""
        r = self.rules
        reasons: list[dict[str, Any]] = []
        bin_ = body.card_bin or (body.card_number[:6] if body.card_number else None)
        checks: list[tuple[ListKind, str | None]] = [
            ("email", body.email.lower() if body.email else None),
            ("document", body.doc_number),
            ("bin", bin_),
            ("ip", body.ip),
        ]
        for kind, value in checks:
            if value is not None and self._blocked(kind, value):
                reasons.append(
                    _reason(f"blocklist_{kind}", f"{kind} {value} is blocked", r.points.blocklist)
                )
        amount = to_decimal(body.amount)
        if amount >= Decimal(r.amount_reject):
            reasons.append(
                _reason("amount_reject", f"amount >= {r.amount_reject}", r.points.amount_reject)
            )
        elif amount >= Decimal(r.amount_review):
            reasons.append(
                _reason("amount_review", f"amount >= {r.amount_review}", r.points.amount_review)
            )
        now = self.clock()
        per_card, per_email, per_ip = self.velocity_limits()
        for key, limit, code in (
            (f"card:{body.card_number}" if body.card_number else None, per_card, "card"),
            (f"email:{body.email.lower()}" if body.email else None, per_email, "email"),
            (f"ip:{body.ip}" if body.ip else None, per_ip, "ip"),
        ):
            if key is None:
                continue
            count = self._count(key, now, r.velocity_window_s)
            if count > limit:
                reasons.append(
                    _reason(
                        f"velocity_{code}",
                        f"{count} attempts for this {code} in {r.velocity_window_s} s "
                        f"(limit {limit})",
                        r.points.velocity,
                    )
                )
        score = min(100, sum(int(x["points"]) for x in reasons))
        decision = (
            "reject"
            if score >= r.reject_score
            else "review"
            if score >= r.review_score
            else "approve"
        )
        eval_id = self.rng.new_id("eval")
        out: dict[str, Any] = {
            "id": eval_id,
            "score": score,
            "decision": decision,
            "reasons": reasons,
            "reference": body.reference,
        }
        self.evaluations[eval_id] = out
        if len(self.evaluations) > MAX_EVALUATIONS:
            del self.evaluations[next(iter(self.evaluations))]
        return out

    def _blocked(self, kind: str, value: str) -> bool:
        entries = self.lists[kind]
        if kind == "bin":
            return any(value.startswith(b) or b.startswith(value) for b in entries)
        return value in entries

    def _count(self, key: str, now: float, window: int) -> int:
        q = self.attempts.setdefault(key, deque())
        q.append(now)
        while q and q[0] <= now - window:
            q.popleft()
        if len(self.attempts) >= self.sweep_at:
            self._forget_idle(now, window)
        return len(q)

    def _forget_idle(self, now: float, window: int) -> None:
        """Drop keys with no attempt inside the window: each distinct card, e-mail and IP
        ever seen was kept (a few hundred bytes a payment, for good, in a long load run)."""
        idle = [k for k, q in self.attempts.items() if not q or q[-1] <= now - window]
        for key in idle:
            del self.attempts[key]
        self.sweep_at = max(SWEEP_KEYS, 2 * len(self.attempts))

    def add(self, kind: str, value: str) -> bool:
        """Block a value; False if it was already blocked."""
        value = value.lower() if kind == "email" else value
        if value in self.lists[kind]:
            return False
        self.lists[kind].add(value)
        return True

    def remove(self, kind: str, value: str) -> bool:
        """Unblock a value; False if it was not blocked."""
        value = value.lower() if kind == "email" else value
        if value not in self.lists[kind]:
            return False
        self.lists[kind].discard(value)
        return True

    def snapshot(self) -> dict[str, Any]:
        """Rules, lists and evaluations (velocity history is not kept)."""
        return {
            "rules": self.rules.model_dump(),
            "lists": {k: sorted(v) for k, v in self.lists.items()},
            "evaluations": list(self.evaluations.values()),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Load a snapshot."""
        self.reset()
        self.rules = Rules.model_validate(data.get("rules", {}))
        for kind, values in data.get("lists", {}).items():
            self.lists[kind] = set(values)
        for ev in data.get("evaluations", []):
            self.evaluations[ev["id"]] = ev


def _reason(code: str, detail: str, points: int) -> dict[str, Any]:
    return {"code": code, "detail": detail, "points": points}
