"""Rotation Lambda for partner API keys (PSE, bank, antifraud, SMS).

The secret is `{"partner": "pse", "api_key": ...}`. setSecret registers the new key with the
partner through its key-management API (locally the simulator's `/_sim/api-keys`), which
keeps the old key valid for a grace window, so clients holding it keep working until they
read the new one; testSecret calls the partner with the new key.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from paylab.lambdas.rotate_base import Rotation, RotationError, env, random_token, run

_TIMEOUT_SECONDS = 10.0
HEADER = "X-Api-Key"


def partner_url(secret: dict[str, Any]) -> str:
    """The partner's base URL, from PAYLAB_PARTNER_URLS (`{"pse": "http://...", ...}`)."""
    partner = secret.get("partner")
    urls = json.loads(env("PAYLAB_PARTNER_URLS"))
    if not isinstance(partner, str) or partner not in urls:
        raise RotationError(f"the secret names no known partner ({partner!r})")
    return str(urls[partner]).rstrip("/")


def _request(method: str, url: str, body: Any = None, key: str | None = None) -> Any:
    headers = {"content-type": "application/json"}
    if key is not None:
        headers[HEADER] = key
    request = urllib.request.Request(  # noqa: S310 (URLs come from our own template)
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:  # noqa: S310
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise RotationError(f"{method} {url} answered {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise RotationError(f"{method} {url} failed: {exc}") from None
    return json.loads(raw) if raw else {}


def generate(current: dict[str, Any]) -> dict[str, Any]:
    """The same partner, a new random key."""
    return {**current, "api_key": random_token(48)}


def apply(pending: dict[str, Any], _current: dict[str, Any]) -> None:
    """Make the new key the partner's current one; the old stays valid for the grace window."""
    grace = int(env("PAYLAB_KEY_GRACE_SECONDS"))
    body = {"key": pending["api_key"], "grace_seconds": grace}
    _request("PUT", f"{partner_url(pending)}/_sim/api-keys", body)


def test(pending: dict[str, Any]) -> None:
    """The partner must accept the new key as its current one."""
    answer = _request("GET", f"{partner_url(pending)}/v1/auth/check", key=pending["api_key"])
    if not isinstance(answer, dict) or answer.get("key") != "current":
        raise RotationError(f"the partner did not take the new key as current: {answer!r}")


ROTATION = Rotation(generate=generate, apply=apply, test=test)


def handler(event: dict[str, Any], _context: Any) -> None:
    """Secrets Manager's rotation entry point."""
    run(event, ROTATION)
