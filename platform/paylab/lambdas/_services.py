"""Calls from Lambdas to the services' internal endpoints, with errors Step Functions can route.

Error names are the contract with `workflows/payment_saga.asl.json`: `TransientError` is
retried with backoff; `Refused` (a 4xx from the service) is not.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.parse
from typing import Any

import boto3

_TIMEOUT_SECONDS = 10.0
# Warm invocations reuse the credential; a 401 fetches it again (it may have been rotated).
_credential: dict[str, Any] = {"value": None, "fetched": 0.0}
_CREDENTIAL_TTL = 300.0
# One kept-alive connection per service base URL: a warm runtime (one invocation at a time)
# reuses it, so neither it nor the service sets up a TCP connection per SAGA step.
_connections: dict[str, http.client.HTTPConnection] = {}


class TransientError(Exception):
    """The service is unavailable or answered 5xx/429: try again later."""


class Refused(Exception):
    """The service refused the request (4xx): retrying the same request will not help."""


def _internal_credential(refresh: bool = False) -> str:
    stale = time.monotonic() - _credential["fetched"] > _CREDENTIAL_TTL
    if refresh or stale or _credential["value"] is None:
        secrets = boto3.client("secretsmanager")
        secret = secrets.get_secret_value(SecretId=os.environ["PAYLAB_INTERNAL_SECRET_ARN"])
        _credential["value"] = json.loads(secret["SecretString"])["password"]
        _credential["fetched"] = time.monotonic()
    return str(_credential["value"])


def call(service: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """JSON request to `service` (PAYLAB_<SERVICE>_URL) with the internal credential."""
    base = os.environ[f"PAYLAB_{service.upper()}_URL"].rstrip("/")
    data = None if body is None else json.dumps(body).encode()
    for attempt in (1, 2):
        headers = {
            "content-type": "application/json",
            "x-paylab-internal-key": _internal_credential(refresh=attempt == 2),
        }
        try:
            status, raw = _send(base, method, path, data, headers)
        except (OSError, http.client.HTTPException) as exc:
            raise TransientError(f"{service} {method} {path}: {exc}") from None
        if status < 400:
            return json.loads(raw) if raw else {}
        detail = _detail(raw)
        if status == 401 and attempt == 1:
            continue  # the credential may have just rotated: fetch it again once
        if status >= 500 or status == 429:
            raise TransientError(f"{service} {method} {path}: {status} {detail}") from None
        raise Refused(f"{service} {method} {path}: {status} {detail}") from None
    raise Refused(f"{service} {method} {path}: the internal credential was refused")


def _send(
    base: str, method: str, path: str, data: bytes | None, headers: dict[str, str]
) -> tuple[int, bytes]:
    """One request on the kept-alive connection to `base`; (status, body)."""
    target = urllib.parse.urlsplit(base).path + path
    for fresh in (base not in _connections, True):
        conn = _connection(base)
        try:
            conn.request(method, target, body=data, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
            _drop(base)
            if fresh:
                raise
            # The service closed the idle kept-alive connection as we sent (uvicorn does after
            # a few idle seconds): send once more on a new one. Every internal endpoint the
            # Lambdas call is idempotent, so even a request that did arrive may be repeated.
        except BaseException:
            _drop(base)  # a timeout or a half-read answer leaves the connection unusable
            raise
    raise AssertionError("unreachable: the second attempt is always on a fresh connection")


def _drop(base: str) -> None:
    conn = _connections.pop(base, None)
    if conn is not None:
        conn.close()


def _connection(base: str) -> http.client.HTTPConnection:
    conn = _connections.get(base)
    if conn is None:
        parts = urllib.parse.urlsplit(base)
        kind = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        conn = kind(parts.netloc, timeout=_TIMEOUT_SECONDS)
        _connections[base] = conn
    return conn


def _detail(raw: bytes) -> str:
    try:
        problem = json.loads(raw or b"{}")
    except ValueError:
        return ""
    return str(problem.get("detail", "")) if isinstance(problem, dict) else ""
