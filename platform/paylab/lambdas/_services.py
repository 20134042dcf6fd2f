"""Calls from Lambdas to the services' internal endpoints, with errors Step Functions can route.

Error names are the contract with `workflows/payment_saga.asl.json`: `TransientError` is
retried with backoff; `Refused` (a 4xx from the service) is not.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

import boto3

_TIMEOUT_SECONDS = 10.0
# Warm invocations reuse the credential; a 401 fetches it again (it may have been rotated).
_credential: dict[str, Any] = {"value": None, "fetched": 0.0}
_CREDENTIAL_TTL = 300.0


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
    for attempt in (1, 2):
        request = urllib.request.Request(  # noqa: S310 (the URL comes from our own settings)
            f"{base}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "content-type": "application/json",
                "x-paylab-internal-key": _internal_credential(refresh=attempt == 2),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:  # noqa: S310
                raw = response.read()
                return json.loads(raw) if raw else {}
        except urllib.error.HTTPError as exc:
            detail = _detail(exc)
            if exc.code == 401 and attempt == 1:
                continue  # the credential may have just rotated: fetch it again once
            if exc.code >= 500 or exc.code == 429:
                raise TransientError(f"{service} {method} {path}: {exc.code} {detail}") from None
            raise Refused(f"{service} {method} {path}: {exc.code} {detail}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise TransientError(f"{service} {method} {path}: {exc}") from None
    raise Refused(f"{service} {method} {path}: the internal credential was refused")


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        problem = json.loads(exc.read() or b"{}")
    except ValueError:
        return ""
    return str(problem.get("detail", "")) if isinstance(problem, dict) else ""
