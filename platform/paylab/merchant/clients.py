"""auth and wallet through their internal APIs (the internal credential, bounded retries)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from paylab.core.internal_auth import HEADER, REFUSED, internal_credential
from paylab.core.retries import Transient, with_retries
from paylab.merchant.settings import MerchantSettings

BACKOFF_S = 0.2  # first wait between attempts, doubling (at most 2 s)


class UpstreamUnavailable(Exception):
    """auth or wallet did not answer usefully after our retries; the caller may retry."""


class UpstreamRefused(Exception):
    """auth or wallet refused the request (4xx): a bug or a state only an operator can fix."""

    def __init__(self, message: str, *, status: int = 0, slug: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.slug = slug  # the last part of the problem's `type`, e.g. insufficient-funds


@dataclass(frozen=True)
class ApiKey:
    """One of a merchant's API keys as auth lists it."""

    public_key: str
    active: bool
    last_used_at: datetime | None


class Auth(Protocol):
    """What registration needs from auth."""

    def list_keys(self, merchant_id: str) -> list[ApiKey]:
        """The merchant's keys."""

    def issue_key(self, merchant_id: str) -> tuple[str, str]:
        """A new (public, private) key pair."""

    def revoke_key(self, public_key: str) -> None:
        """Revoke one key (idempotent)."""


class Wallet(Protocol):
    """What registration needs from wallet."""

    def ensure_account(self, merchant_id: str, currency: str) -> uuid.UUID:
        """The merchant's account in `currency`, created on the first call."""


def request(http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One HTTP request; a transport error is Transient."""
    try:
        return http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise Transient(f"{method} {path}: {exc!r}") from exc


class InternalClient:
    """JSON calls to a service's /internal API; transport errors and 5xx are retried."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        attempts: int,
        credential: Callable[..., str] = internal_credential,
    ) -> None:
        self.http = http
        self.attempts = attempts
        self.credential = credential

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One logical call; UpstreamUnavailable or UpstreamRefused when it cannot succeed."""
        return with_retries(
            lambda n: self._once(method, path, refresh=n > 1, **kwargs),
            attempts=self.attempts,
            backoff_s=BACKOFF_S,
            unavailable=lambda cause: UpstreamUnavailable(str(cause)),
        )

    def _once(self, method: str, path: str, *, refresh: bool, **kwargs: Any) -> Any:
        extra = kwargs.pop("headers", {})
        headers = {**extra, HEADER: self._credential(refresh)}
        response = request(self.http, method, path, headers=headers, **kwargs)
        if response.status_code == 401 and _slug(response) == REFUSED and not refresh:
            # The credential rotated: read it again and send once more, at once (whatever
            # `attempts` allows; the service refused it before doing anything).
            headers = {**extra, HEADER: self._credential(True)}
            response = request(self.http, method, path, headers=headers, **kwargs)
        if response.status_code >= 500 or response.status_code in (401, 429):
            raise Transient(f"{method} {path} answered {response.status_code}")
        if response.status_code >= 400:
            raise UpstreamRefused(
                f"{method} {path} answered {response.status_code}: {response.text[:200]}",
                status=response.status_code,
                slug=_slug(response),
            )
        return response.json() if response.content else None

    def _credential(self, refresh: bool) -> str:
        try:
            return self.credential(refresh=refresh)
        except (BotoCoreError, ClientError, LookupError, ValueError) as exc:
            raise Transient(f"the internal credential cannot be read: {exc!r}") from exc


def _slug(response: httpx.Response) -> str:
    try:
        kind = response.json().get("type", "")
    except (ValueError, AttributeError):
        return ""
    return str(kind).rstrip("/").rsplit("/", 1)[-1]


class AuthClient:
    """auth's /internal/merchants/{id}/api-keys and /internal/api-keys/{public_key}."""

    def __init__(self, client: InternalClient) -> None:
        self.client = client

    def list_keys(self, merchant_id: str) -> list[ApiKey]:
        """The merchant's keys (public halves and state)."""
        body = self.client.call("GET", f"/internal/merchants/{merchant_id}/api-keys")
        return [
            ApiKey(
                k["public_key"],
                bool(k["active"]),
                datetime.fromisoformat(k["last_used_at"]) if k.get("last_used_at") else None,
            )
            for k in body["keys"]
        ]

    def issue_key(self, merchant_id: str) -> tuple[str, str]:
        """A new key pair; the private half exists only in this answer."""
        body = self.client.call("POST", f"/internal/merchants/{merchant_id}/api-keys")
        return str(body["public_key"]), str(body["private_key"])

    def revoke_key(self, public_key: str) -> None:
        """Revoke a key pair (auth answers 204 again for a revoked one)."""
        self.client.call("DELETE", f"/internal/api-keys/{public_key}")


class WalletClient:
    """wallet's /internal/accounts (create-or-get, so a retry creates nothing twice)."""

    def __init__(self, client: InternalClient) -> None:
        self.client = client

    def ensure_account(self, merchant_id: str, currency: str) -> uuid.UUID:
        """The merchant's account in `currency`."""
        body = self.client.call(
            "POST", "/internal/accounts", json={"merchant_id": merchant_id, "currency": currency}
        )
        return uuid.UUID(str(body["id"]))


def build_clients(settings: MerchantSettings) -> tuple[AuthClient, WalletClient]:
    """auth and wallet clients with explicit timeouts, never through an environment proxy."""

    def http(base_url: str) -> httpx.Client:
        return httpx.Client(base_url=base_url, timeout=settings.internal_timeout_s, trust_env=False)

    attempts = settings.internal_attempts
    return (
        AuthClient(InternalClient(http(settings.auth_url), attempts=attempts)),
        WalletClient(InternalClient(http(settings.wallet_url), attempts=attempts)),
    )
