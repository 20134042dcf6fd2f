"""Partner API keys: which `X-Api-Key` a simulator accepts, and its `/_sim/api-keys` admin API.

Unconfigured, a simulator is open (unit tests, partners without keys). Once a key is set,
every partner route (`/v1/...`) wants it in `X-Api-Key`; setting a new key keeps the one it
replaces valid for a grace window, so clients that still hold it (cached for a TTL) keep
working while the rotation finishes. Only one previous key is kept: a key two rotations old
is refused at once. `GET /v1/auth/check` answers which key the caller presented, so a
rotation's testSecret step can prove a key works without side effects.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import Scope, Send

from paylab.core.problems import PROBLEM_MEDIA_TYPE, Problem, problem_body
from simulators.journal import Journal

HEADER = "X-Api-Key"
RAW_HEADER = HEADER.lower().encode()
#: The routes a key guards: the partner API, not its control plane or the PSE bank page.
GUARDED_PREFIX = "/v1/"
DEFAULT_GRACE_SECONDS = 900


def fingerprint(key: str) -> str:
    """A short, non-reversible label for a key (the admin API never echoes keys)."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass
class ApiKeys:
    """The current key and the previous one until its grace window ends."""

    clock: Callable[[], float] = time.monotonic
    current: str | None = None
    previous: str | None = None
    previous_until: float = 0.0

    @property
    def configured(self) -> bool:
        """False while no key was ever set: every request is let through."""
        return self.current is not None

    def set(self, key: str, grace_seconds: float) -> None:
        """Make `key` current; the replaced key stays valid for `grace_seconds`.

        Setting the current key again changes nothing, so a retried rotation step does not
        cut the previous key's grace short.
        """
        if self.current is not None and hmac.compare_digest(key, self.current):
            return
        self.previous, self.current = self.current, key
        self.previous_until = self.clock() + grace_seconds

    def clear(self) -> None:
        """Forget every key: the simulator is open again."""
        self.current = self.previous = None
        self.previous_until = 0.0

    def check(self, presented: str | None) -> Literal["open", "current", "previous"] | None:
        """Which key `presented` is, "open" when unconfigured, None when refused."""
        if self.current is None:
            return "open"
        if presented is None:
            return None
        if hmac.compare_digest(presented.encode(), self.current.encode()):
            return "current"
        if (
            self.previous is not None
            and self.clock() < self.previous_until
            and hmac.compare_digest(presented.encode(), self.previous.encode())
        ):
            return "previous"
        return None

    def status(self) -> ApiKeysOut:
        """Fingerprints and the grace left; never the keys themselves."""
        left = max(0.0, self.previous_until - self.clock()) if self.previous else 0.0
        return ApiKeysOut(
            configured=self.configured,
            current=fingerprint(self.current) if self.current else None,
            previous=fingerprint(self.previous) if self.previous and left > 0 else None,
            previous_valid_for_seconds=round(left, 3),
        )


class ApiKeyIn(BaseModel):
    """A new current key and how long the replaced one stays valid."""

    model_config = ConfigDict(extra="forbid", strict=True)
    key: str = Field(min_length=16, max_length=512)
    grace_seconds: int = Field(default=DEFAULT_GRACE_SECONDS, ge=0, le=7 * 86_400)


class ApiKeysOut(BaseModel):
    """What the simulator accepts, as fingerprints."""

    configured: bool
    current: str | None
    previous: str | None
    previous_valid_for_seconds: float


class KeyCheckOut(BaseModel):
    """Which key the caller presented."""

    key: Literal["open", "current", "previous"]


def _keys(request: Request) -> ApiKeys:
    keys: ApiKeys = request.app.state.sim.api_keys
    return keys


# Hidden from the partner's OpenAPI document: it is the lab's back office, not the partner's
# API, and the contract fuzzer must not lock itself out by setting a key.
admin = APIRouter(prefix="/_sim/api-keys", tags=["control"], include_in_schema=False)
probe = APIRouter(include_in_schema=False)


@admin.get("", response_model=ApiKeysOut)
async def get_keys(request: Request) -> ApiKeysOut:
    """Whether keys are configured, with fingerprints."""
    return _keys(request).status()


@admin.put("", response_model=ApiKeysOut)
async def put_key(body: ApiKeyIn, request: Request) -> ApiKeysOut:
    """Set the current key; the previous one stays valid for `grace_seconds`."""
    keys = _keys(request)
    keys.set(body.key, body.grace_seconds)
    return keys.status()


@admin.delete("", status_code=204)
async def delete_keys(request: Request) -> Response:
    """Forget every key (the simulator is open again)."""
    _keys(request).clear()
    return Response(status_code=204)


@probe.get("/v1/auth/check", response_model=KeyCheckOut)
async def check_key(
    request: Request, key: Annotated[str | None, Header(alias=HEADER)] = None
) -> KeyCheckOut:
    """200 with the key's role; the middleware already refused a bad key with a 401."""
    which = _keys(request).check(key)
    if which is None:  # the key expired between the middleware and here
        raise Problem(401, "invalid-api-key", f"Invalid {HEADER}.", title="Unauthorized")
    return KeyCheckOut(key=which)


def presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The raw `X-Api-Key` header of an ASGI request, if any."""
    for name, value in headers:
        if name == RAW_HEADER:
            return value.decode("latin-1")
    return None


async def refuse(scope: Scope, send: Send, journal: Journal, started: float) -> None:
    """Answer 401 problem+json and journal it (the request never reaches the partner)."""
    doc = problem_body(
        401, "invalid-api-key", f"Missing or invalid {HEADER}.", title="Unauthorized"
    )
    out = json.dumps(doc).encode()
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(out)).encode()),
    ]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": out})
    journal.record(
        "request",
        scope["method"],
        scope["path"],
        scope["query_string"].decode("latin-1"),
        b"",
        401,
        out,
        (time.perf_counter() - started) * 1000,
        note="api key refused",
    )
