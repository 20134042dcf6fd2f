"""Fault rules: what to match, what to do, when; decided with the simulator's seeded RNG."""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

# The rule models live in fault_rules; they are re-exported here for the simulators' modules.
from simulators.fault_rules import (
    CALLBACK_EFFECTS,
    BadSignatureEffect,
    CallbackEffect,
    DelayEffect,
    DropEffect,
    DuplicateEffect,
    ErrorEffect,
    FaultRule,
    FaultRuleIn,
    LatencyEffect,
    MalformedEffect,
    Match,
    ReorderEffect,
    RequestEffect,
    ResetEffect,
    TimeoutEffect,
    When,
)
from simulators.seeding import SeededRandom

__all__ = [
    "CALLBACK_EFFECTS",
    "BadSignatureEffect",
    "CallbackEffect",
    "Decision",
    "DelayEffect",
    "DropEffect",
    "DuplicateEffect",
    "ErrorEffect",
    "FaultEngine",
    "FaultRule",
    "FaultRuleIn",
    "LatencyEffect",
    "MalformedEffect",
    "Match",
    "ReorderEffect",
    "RequestEffect",
    "ResetEffect",
    "TimeoutEffect",
    "When",
    "parse_body",
]


def _glob_to_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("^" + "".join(out) + "$")


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _dig(body: Any, dotted: str) -> tuple[bool, Any]:
    node = body
    for part in dotted.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def parse_body(raw: bytes, content_type: str) -> Any:
    """Best-effort parse of a request body for matching (JSON or form)."""
    if not raw:
        return None
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(raw.decode("utf-8", "replace")))
    try:
        return json.loads(raw)
    except ValueError:
        return None


@dataclass(slots=True)
class _Compiled:
    rule: FaultRule
    method: str | None
    path: re.Pattern[str] | None
    body: tuple[tuple[str, str | None, re.Pattern[str] | None], ...]

    def matches(self, method: str, path: str, body: Callable[[], Any]) -> bool:
        if self.method is not None and method != self.method:
            return False
        if self.path is not None and self.path.match(path) is None:
            return False
        if self.body:
            parsed = body()
            for dotted, expected, glob in self.body:
                found, actual = _dig(parsed, dotted)
                text = _scalar_text(actual) if found else None
                if text is None:
                    return False
                if glob is not None:
                    if glob.match(text) is None:
                        return False
                elif text != expected:
                    return False
        return True


@dataclass(slots=True, frozen=True)
class Decision:
    """A fault that fired: the rule and the concrete parameters rolled for this call."""

    rule_id: str
    effect: RequestEffect | CallbackEffect
    delay_ms: int = 0

    @property
    def kind(self) -> str:
        """The effect type, e.g. `error`."""
        return self.effect.type


def _compile(rule: FaultRule) -> _Compiled:
    body: list[tuple[str, str | None, re.Pattern[str] | None]] = []
    for dotted, expected in (rule.match.body or {}).items():
        text = _scalar_text(expected)
        glob = None
        if isinstance(expected, str) and any(c in expected for c in "*?["):
            glob = re.compile(fnmatch.translate(expected))
        body.append((dotted, text, glob))
    return _Compiled(
        rule=rule,
        method=rule.match.method.upper() if rule.match.method else None,
        path=_glob_to_regex(rule.match.path) if rule.match.path else None,
        body=tuple(body),
    )


@dataclass
class FaultEngine:
    """Holds the rules and decides, per call, which one (if any) fires."""

    rng: SeededRandom
    _rules: dict[str, _Compiled] = field(default_factory=dict)
    _active: dict[str, tuple[_Compiled, ...]] = field(default_factory=dict)
    _next_id: int = 1

    def __post_init__(self) -> None:
        self._rebuild()

    def _rebuild(self) -> None:
        for target in ("request", "callback"):
            self._active[target] = tuple(
                c for c in self._rules.values() if c.rule.active and c.rule.target == target
            )

    @property
    def has_request_rules(self) -> bool:
        """True when some active rule applies to incoming requests."""
        return bool(self._active["request"])

    @property
    def request_rules_need_body(self) -> bool:
        """True when an active request rule matches body fields."""
        return any(c.body for c in self._active["request"])

    def add(self, rule_in: FaultRuleIn) -> FaultRule:
        """Add a rule after the existing ones; ids must be unique."""
        rule_id = rule_in.id
        if rule_id is None:
            while f"f{self._next_id}" in self._rules:
                self._next_id += 1
            rule_id = f"f{self._next_id}"
            self._next_id += 1
        elif rule_id in self._rules:
            raise KeyError(rule_id)
        target: Literal["request", "callback"] = (
            "callback" if rule_in.effect.type in CALLBACK_EFFECTS else "request"
        )
        rule = FaultRule(**rule_in.model_dump(exclude={"id"}), id=rule_id, target=target)
        self._rules[rule_id] = _compile(rule)
        self._rebuild()
        return rule

    def load(self, rules: list[FaultRule]) -> None:
        """Replace every rule with saved ones, counters included (state file)."""
        self._rules = {r.id: _compile(r) for r in rules}
        self._rebuild()

    def rules(self) -> list[FaultRule]:
        """Every rule, oldest first, with counters."""
        return [c.rule for c in self._rules.values()]

    def get(self, rule_id: str) -> FaultRule | None:
        """One rule by id."""
        compiled = self._rules.get(rule_id)
        return compiled.rule if compiled else None

    def remove(self, rule_id: str) -> bool:
        """Remove one rule; False if there was none."""
        found = self._rules.pop(rule_id, None) is not None
        self._rebuild()
        return found

    def clear(self) -> None:
        """Remove every rule and restart ids at f1."""
        self._rules.clear()
        self._next_id = 1
        self._rebuild()

    def reset_counters(self) -> None:
        """Zero the counters and re-arm expired rules (after a reseed)."""
        for c in self._rules.values():
            c.rule.matched = 0
            c.rule.applied = 0
            c.rule.active = True
        self._rebuild()

    def decide(
        self, target: str, method: str, path: str, body: Callable[[], Any]
    ) -> Decision | None:
        """The first rule that matches and fires for this call, or None."""
        rules = self._active.get(target, ())
        if not rules:
            return None
        fired: Decision | None = None
        expired = False
        for c in rules:
            if not c.matches(method, path, body):
                continue
            rule = c.rule
            rule.matched += 1
            when = rule.when
            if rule.matched <= when.after:
                continue
            if when.probability < 1.0 and self.rng.stream("faults").random() >= when.probability:
                continue
            rule.applied += 1
            if when.next is not None and rule.applied >= when.next:
                rule.active = False
                expired = True
            fired = Decision(rule.id, rule.effect, self._roll_delay(rule.effect))
            break
        if expired:
            self._rebuild()
        return fired

    def _roll_delay(self, effect: RequestEffect | CallbackEffect) -> int:
        if isinstance(effect, LatencyEffect | DelayEffect):
            jitter = (
                self.rng.stream("jitter").randint(0, effect.jitter_ms) if effect.jitter_ms else 0
            )
            return effect.ms + jitter
        return 0
