"""The card-authorization hot path as plain ASGI, without FastAPI's per-request machinery.

Only the common case is handled here (a JSON body that validates, no Idempotency-Key);
anything else returns None and the FastAPI route answers, so errors look the same either way.
`tests/unit/sim/test_bank_fastpath.py` checks both paths give the same answers.
"""

from __future__ import annotations

import orjson
from pydantic import ValidationError
from starlette.types import Scope

from paylab.core.problems import Problem
from simulators.bank.routes import auth_body
from simulators.bank.schemas import AuthorizationIn
from simulators.bank.state import BankState
from simulators.middleware import FastHandler

_DELEGATE_HEADERS = frozenset({b"idempotency-key"})


def authorization_handler(state: BankState) -> FastHandler:
    """POST /v1/authorizations for the common case."""

    async def handle(raw: bytes, scope: Scope) -> tuple[int, bytes] | None:
        json_body = False
        for key, value in scope["headers"]:
            if key in _DELEGATE_HEADERS:
                return None
            if key == b"content-type":
                json_body = value.startswith(b"application/json")
        if not json_body:
            return None
        try:
            body = AuthorizationIn.model_validate_json(raw)
        except ValidationError:
            return None
        try:
            auth = state.authorize(body)
        except Problem:
            # authorize() raises only before it changes anything (card checks, unknown token),
            # so the route can run it again and render the very same problem.
            return None
        return 201, orjson.dumps(auth_body(auth))

    return handle
