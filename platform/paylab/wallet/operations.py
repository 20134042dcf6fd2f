"""Idempotent operations: the first answer to a key is stored and replayed.

The key's row is inserted first, in the use case's transaction: a concurrent request with
the same key waits on it and then reads the committed answer, so an operation runs once
even when retries race. Business refusals (insufficient funds, a hold already resolved)
are answers too and are stored; the work done before the refusal is rolled back to a
savepoint so none of it survives.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from paylab.core.problems import problem_body
from paylab.wallet.models import Operation


class WalletError(Exception):
    """A request the wallet refuses, with the problem it answers.

    `final` refusals are decisions about the operation (insufficient funds, a hold already
    resolved): they are stored as its answer. Others (not found, a race lost) are not.
    """

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        final: bool = False,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.errors = errors
        self.final = final

    def body(self) -> dict[str, Any]:
        """The problem+json document."""
        return problem_body(self.status, self.slug, self.detail, errors=self.errors)


def not_found(what: str) -> WalletError:
    """404 that says nothing about whether the thing exists for someone else."""
    return WalletError(404, "not-found", f"No such {what}.")


def invalid(field: str, message: str) -> WalletError:
    """422 naming the offending field (final: the same request always gets it)."""
    return WalletError(
        422,
        "validation-error",
        f"The request has invalid fields: {field}.",
        errors=[{"field": field, "message": message}],
        final=True,
    )


@dataclass(frozen=True)
class Outcome:
    """An operation's answer: HTTP status and body (a problem document when status >= 400)."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


def fingerprint(**request: Any) -> str:
    """A stable hash of a request's meaningful content (amounts already normalized)."""
    text = json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def run_once(
    session: Session, scope: str, key: str, request_hash: str, action: Callable[[], Outcome]
) -> Outcome:
    """Run `action` once per (scope, key); replay its answer, or 409 for another request."""
    claimed = session.execute(
        insert(Operation)
        .values(scope=scope, key=key, request_hash=request_hash)
        .on_conflict_do_nothing()
        .returning(Operation.key)
    ).first()
    if claimed is None:
        return _replay(session, scope, key, request_hash)
    savepoint = session.begin_nested()
    try:
        outcome = action()
    except WalletError as refused:
        if not refused.final:
            raise  # nothing decided: the whole transaction, key included, rolls back
        savepoint.rollback()
        outcome = Outcome(refused.status, refused.body())
    else:
        savepoint.commit()
    session.execute(
        update(Operation)
        .where(Operation.scope == scope, Operation.key == key)
        .values(status_code=outcome.status, response=outcome.body)
    )
    return outcome


def _replay(session: Session, scope: str, key: str, request_hash: str) -> Outcome:
    row = session.execute(
        select(Operation.request_hash, Operation.status_code, Operation.response).where(
            Operation.scope == scope, Operation.key == key
        )
    ).one()
    if row.request_hash != request_hash:
        raise WalletError(
            409,
            "idempotency-key-reused",
            f"Key {key!r} was already used for a different request; use a new key.",
        )
    if row.status_code is None or row.response is None:  # unreachable: written in one commit
        raise WalletError(409, "conflict", f"Operation {key!r} is still in progress.")
    return Outcome(int(row.status_code), dict(row.response), replayed=True)
