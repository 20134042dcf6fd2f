"""The gateway's side of one upstream request: sending it, and its internal credential."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import structlog
from botocore.exceptions import BotoCoreError, ClientError
from starlette.responses import Response

from paylab.core.internal_auth import REFUSED
from paylab.core.problems import problem_response

log = structlog.get_logger("paylab.gateway")


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
    service: str,
) -> httpx.Response | Response:
    """The service's response, or the gateway's own answer when none came."""
    try:
        upstream = await http.request(method, url, headers=wire(headers), content=body)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        log.warning("upstream_unavailable", service=service, error=repr(exc))
        return problem_response(
            503,
            "upstream-unavailable",
            f"The {service} service is unavailable; try again.",
            headers={"Retry-After": "5"},
        )
    except httpx.TimeoutException as exc:
        log.warning("upstream_timeout", service=service, error=repr(exc))
        return problem_response(
            504,
            "upstream-timeout",
            f"The {service} service did not answer in time.",
            title="Gateway timeout",
        )
    except httpx.HTTPError as exc:
        log.warning("upstream_error", service=service, error=repr(exc))
        return problem_response(
            502,
            "upstream-error",
            f"The {service} service gave no valid answer.",
            title="Bad gateway",
        )
    return upstream


async def credential(read: Callable[[], Awaitable[str]]) -> str | Response:
    """The internal credential, or a 503 when Secrets Manager cannot give it now."""
    try:
        return await read()
    except (BotoCoreError, ClientError, LookupError, ValueError) as exc:
        log.error("internal_credential_unavailable", error=repr(exc))
        return problem_response(
            503,
            "upstream-unavailable",
            "The gateway cannot read its credentials right now; try again.",
            headers={"Retry-After": "5"},
        )


def credential_refused(upstream: httpx.Response | Response) -> bool:
    """A service's 401 for the gateway's internal credential (not for the client)."""
    if not isinstance(upstream, httpx.Response) or upstream.status_code != 401:
        return False
    try:
        kind = upstream.json().get("type", "")
    except (ValueError, AttributeError):
        return False
    return isinstance(kind, str) and kind.endswith("/" + REFUSED)


def wire(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Headers as the bytes the client sent them (Starlette decoded them as Latin-1)."""
    # httpx encodes str values as ASCII: a client's "é" would raise there and answer 500.

    def encode(text: str) -> bytes:
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:  # only the gateway's own values can get here
            return text.encode("utf-8")

    return [(encode(name), encode(value)) for name, value in headers]
