"""Event contracts: the JSON Schema (2020-12) of each event type, compiled once and cached.

The schemas live in `contracts/events/` (ARCHITECTURE §3). The package ships them as
`paylab/event_contracts/` (a link to that folder in the repository, copied into wheels as
package data), so an installed service validates against the same files as the repository.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache, lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

SUFFIX = ".schema.json"
# Shared pieces, not event types: referenced from every event's schema with $ref.
SHARED = frozenset({"envelope", "common"})


class EventContractError(ValueError):
    """An event that breaks its type's contract, or whose type has no contract."""

    def __init__(self, event_type: str, path: str, message: str) -> None:
        super().__init__(f"{event_type} event breaks its contract at {path}: {message}")
        self.event_type, self.path, self.reason = event_type, path, message


def schema_dir() -> Traversable:
    """Where the schemas are: the package's copy of contracts/events."""
    return files("paylab") / "event_contracts"


@lru_cache(maxsize=1)
def _schemas() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for entry in schema_dir().iterdir():
        if entry.name.endswith(SUFFIX):
            found[entry.name.removesuffix(SUFFIX)] = json.loads(entry.read_text("utf-8"))
    if not found:
        raise RuntimeError(f"no event schemas in {schema_dir()}")
    return found


@lru_cache(maxsize=1)
def _registry() -> Registry[Any]:
    resources = [(s["$id"], Resource.from_contents(s)) for s in _schemas().values()]
    return Registry().with_resources(resources)


@cache
def validator(event_type: str) -> Draft202012Validator:
    """The compiled validator of one event type; EventContractError when it has none."""
    schema = _schemas().get(event_type)
    if schema is None or event_type in SHARED:
        raise EventContractError(event_type, "type", f"no schema {event_type}{SUFFIX}")
    return Draft202012Validator(schema, registry=_registry())


@cache
def _fast(event_type: str) -> jsonschema_rs.Validator:
    # The compiled (Rust) check every event pays: ~3 us against ~450 for `validator`, which
    # then only runs for an invalid event, to name its error as before. Formats stay
    # annotations, as in `validator`: the two must accept exactly the same events.
    return jsonschema_rs.validator_for(
        _schemas()[event_type], registry=_fast_registry(), validate_formats=False
    )


@lru_cache(maxsize=1)
def _fast_registry() -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry([(s["$id"], s) for s in _schemas().values()])


def event_types() -> frozenset[str]:
    """Every event type that has a contract."""
    return frozenset(_schemas()) - SHARED


def schema(name: str) -> dict[str, Any]:
    """One schema document as stored (an event type, `envelope` or `common`)."""
    return _schemas()[name]


def validate(envelope: Mapping[str, Any]) -> None:
    """Check one event (the envelope as it travels, JSON types) against its type's schema."""
    event_type = envelope.get("type")
    if not isinstance(event_type, str):
        raise EventContractError(str(event_type), "type", "the envelope has no string `type`")
    checker = validator(event_type)  # EventContractError for a type without a contract
    try:
        if _fast(event_type).is_valid(envelope):
            return
    except (TypeError, ValueError):
        pass  # not plain JSON types: the reference validator below decides
    errors: Iterable[ValidationError] = checker.iter_errors(envelope)
    error = best_match(errors)
    if error is not None:
        raise EventContractError(event_type, _path(error), error.message)


def _path(error: ValidationError) -> str:
    # `$.data.amount` reads better in a log line than deque(['data', 'amount']).
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
