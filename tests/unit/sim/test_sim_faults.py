"""Fault rules: matching, when-conditions, seeded rolls."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from simulators.faults import FaultEngine, FaultRuleIn
from simulators.seeding import SeededRandom


def rule(**kw: Any) -> FaultRuleIn:
    kw.setdefault("effect", {"type": "error", "status": 503})
    return FaultRuleIn.model_validate(kw)


def engine(seed: int = 0) -> FaultEngine:
    return FaultEngine(SeededRandom(seed))


def fire(e: FaultEngine, method: str = "POST", path: str = "/v1/x", body: Any = None) -> str | None:
    d = e.decide("request", method, path, lambda: body)
    return d.rule_id if d else None


def test_no_rules_no_fault() -> None:
    assert fire(engine()) is None


def test_method_and_path_glob() -> None:
    e = engine()
    e.add(rule(match={"method": "post", "path": "/v1/authorizations/*/capture"}))
    assert fire(e, "POST", "/v1/authorizations/auth_1/capture") == "f1"
    assert fire(e, "GET", "/v1/authorizations/auth_1/capture") is None
    assert fire(e, "POST", "/v1/authorizations/a/b/capture") is None  # * stays in one segment
    e.add(rule(id="deep", match={"path": "/v1/**"}))
    assert fire(e, "GET", "/v1/a/b/c") == "deep"
    assert fire(e, "GET", "/v2/a") is None


def test_body_fields_exact_glob_and_missing() -> None:
    e = engine()
    e.add(rule(match={"body": {"card.number": "4151*", "capture": True}}))
    assert fire(e, body={"card": {"number": "4151611527583283"}, "capture": True}) == "f1"
    assert fire(e, body={"card": {"number": "4151611527583283"}, "capture": False}) is None
    assert fire(e, body={"card": {"number": "4575623182290326"}, "capture": True}) is None
    assert fire(e, body={"capture": True}) is None
    assert fire(e, body=None) is None


def test_next_n_then_expires() -> None:
    e = engine()
    e.add(rule(when={"next": 2}))
    assert [fire(e) for _ in range(4)] == ["f1", "f1", None, None]
    r = e.get("f1")
    assert r is not None and r.active is False and r.applied == 2


def test_after_n_skips_first_calls() -> None:
    e = engine()
    e.add(rule(when={"after": 3}))
    assert [fire(e) for _ in range(5)] == [None, None, None, "f1", "f1"]


def test_after_and_next_combine() -> None:
    e = engine()
    e.add(rule(when={"after": 1, "next": 2}))
    assert [fire(e) for _ in range(5)] == [None, "f1", "f1", None, None]


def test_until_removed() -> None:
    e = engine()
    e.add(rule())
    assert all(fire(e) == "f1" for _ in range(50))
    assert e.remove("f1") is True
    assert fire(e) is None
    assert e.remove("f1") is False


def test_first_matching_rule_wins() -> None:
    e = engine()
    e.add(rule(id="a", match={"path": "/v1/other"}))
    e.add(rule(id="b"))
    e.add(rule(id="c"))
    assert fire(e) == "b"
    c = e.get("c")
    assert c is not None and c.matched == 0


def test_probability_is_reproducible_with_the_seed() -> None:
    def schedule(seed: int) -> list[str | None]:
        e = engine(seed)
        e.add(rule(when={"probability": 0.5}))
        return [fire(e) for _ in range(200)]

    a, b, c = schedule(7), schedule(7), schedule(8)
    assert a == b
    assert a != c
    assert 60 < a.count("f1") < 140  # roughly half, not all or nothing


def test_probability_extremes() -> None:
    e = engine()
    e.add(rule(when={"probability": 0.0}))
    assert all(fire(e) is None for _ in range(100))


def test_jitter_is_seeded_and_bounded() -> None:
    def delays(seed: int) -> list[int]:
        e = engine(seed)
        e.add(rule(effect={"type": "latency", "ms": 100, "jitter_ms": 50}))
        return [e.decide("request", "GET", "/", lambda: None).delay_ms for _ in range(50)]  # type: ignore[union-attr]

    d = delays(3)
    assert d == delays(3)
    assert all(100 <= x <= 150 for x in d) and len(set(d)) > 5


def test_callback_rules_do_not_touch_requests() -> None:
    e = engine()
    e.add(rule(effect={"type": "drop"}))
    assert e.get("f1") is not None and e.get("f1").target == "callback"  # type: ignore[union-attr]
    assert fire(e) is None
    assert e.decide("callback", "POST", "/hook", lambda: {}) is not None


def test_reseed_rearms_counters() -> None:
    e = engine()
    e.add(rule(when={"next": 1}))
    assert [fire(e), fire(e)] == ["f1", None]
    e.reset_counters()
    assert fire(e) == "f1"


def test_duplicate_id_rejected() -> None:
    e = engine()
    e.add(rule(id="x"))
    with pytest.raises(KeyError):
        e.add(rule(id="x"))


def test_generated_ids_skip_taken_ones() -> None:
    e = engine()
    e.add(rule(id="f1"))
    assert e.add(rule()).id == "f2"


@pytest.mark.parametrize(
    "bad",
    [
        {"effect": {"type": "error", "status": 200}},
        {"effect": {"type": "nope"}},
        {"effect": {"type": "latency", "ms": -1}},
        {"effect": {"type": "error", "status": 500}, "when": {"probability": 1.5}},
        {"effect": {"type": "error", "status": 500}, "when": {"next": 0}},
        {"effect": {"type": "error", "status": 500}, "match": {"method": "P O"}},
        {"effect": {"type": "error", "status": 500}, "surprise": 1},
        {"match": {"path": "/x"}},
    ],
)
def test_invalid_rules_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FaultRuleIn.model_validate(bad)


def test_randomness_only_comes_from_the_seeded_streams() -> None:
    """No simulator module may draw from `random`'s globals (or import random at all)."""
    import ast
    from pathlib import Path

    import simulators

    root = Path(simulators.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if path.name == "seeding.py":
            continue
        # Secrets must not come from the seed (they would be guessable) and decide no outcome.
        allowed = {"secrets"} if path.name == "credentials.py" else set()
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            names = [n for n in names if n not in allowed]
            if any(n == "random" or n.startswith(("random.", "secrets", "uuid")) for n in names):
                offenders.append(str(path.relative_to(root)))
    assert offenders == []
