"""Partner HTTP clients (bank, PSE, antifraud): timeouts, bounded retries, domain errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from paylab.core.problems import Problem
from paylab.core.retries import json_object, with_retries
from paylab.payment.settings import PaymentSettings

log = structlog.get_logger(__name__)


class PartnerUnavailable(Exception):
    """The partner did not answer usefully after our retries (timeouts, 5xx, resets)."""


class PartnerRejected(Exception):
    """The partner refused the request (4xx): its problem document explains why."""

    def __init__(self, partner: str, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{partner} answered {status}: {body.get('detail', body)}")
        self.partner = partner
        self.status = status
        self.body = body

    @property
    def errors(self) -> list[dict[str, str]]:
        """The partner's field errors, if it gave any."""
        raw = self.body.get("errors")
        return [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []


@dataclass(frozen=True)
class Answer:
    """A partner's JSON answer, and whether it replays the first answer to the same request."""

    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True)
class QuickCall:
    """A tighter budget for one call: its attempts and each attempt's timeout."""

    attempts: int = 1
    timeout_s: float = 4.0


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how patiently to retry a partner call."""

    attempts: int = 3
    backoff_s: float = 0.1


def make_http_client(
    base_url: str, settings: PaymentSettings, auth: httpx.Auth | None = None
) -> httpx.Client:
    """A partner client with explicit connect/read timeouts (and the partner's API key)."""
    timeout = httpx.Timeout(
        settings.partner_read_timeout_s, connect=settings.partner_connect_timeout_s
    )
    return httpx.Client(
        base_url=base_url, timeout=timeout, headers={"accept": "application/json"}, auth=auth
    )


class PartnerClient:
    """JSON over HTTP with retries on transport errors and 5xx/429; 4xx → PartnerRejected."""

    name = "partner"

    def __init__(self, http: httpx.Client, retry: RetryPolicy | None = None) -> None:
        self.http = http
        self.retry = retry or RetryPolicy()

    def call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One logical call: retried on transient failures, mapped to domain errors."""
        return self.call_answer(method, path, json=json, headers=headers, params=params).body

    def call_answer(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        budget: QuickCall | None = None,
        params: dict[str, str] | None = None,
    ) -> Answer:
        """`call`, with whether the partner replayed an earlier answer (Idempotent-Replayed).

        `budget` overrides the retries and timeouts, for a caller that must answer sooner.
        """
        attempts = budget.attempts if budget else self.retry.attempts
        timeout = httpx.Timeout(budget.timeout_s) if budget else None
        return with_retries(
            lambda _: self._once(method, path, json, headers, timeout, params),
            attempts=attempts,
            backoff_s=self.retry.backoff_s,
            unavailable=lambda cause: self._unavailable(path, cause),
        )

    def _unavailable(self, path: str, cause: BaseException) -> PartnerUnavailable:
        log.warning("partner unavailable", partner=self.name, path=path, error=str(cause))
        return PartnerUnavailable(f"{self.name} is unavailable: {cause}")

    def _once(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        headers: dict[str, str] | None,
        timeout: httpx.Timeout | None = None,
        params: dict[str, str] | None = None,
    ) -> Answer:
        response = self.http.request(
            method,
            path,
            json=body,
            headers=headers,
            params=params,
            timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
        )
        parsed = json_object(response, f"{self.name} {method} {path}")
        if response.status_code >= 400:
            raise PartnerRejected(self.name, response.status_code, parsed)
        return Answer(parsed, response.headers.get("idempotent-replayed") == "true")


class AntifraudClient(PartnerClient):
    """The antifraud engine: score an attempt, decide approve / review / reject."""

    name = "antifraud"

    def evaluate(self, attempt: dict[str, Any]) -> dict[str, Any]:
        """`{"id", "score", "decision", "reasons"}` for a payment attempt."""
        return self.call("POST", "/v1/evaluations", json=attempt)


class PseClient(PartnerClient):
    """PSE: bank transfers the payer approves at their bank."""

    name = "pse"

    def create_transaction(
        self, body: dict[str, Any], idempotency_key: str, budget: QuickCall | None = None
    ) -> dict[str, Any]:
        """Start a transfer; the answer carries `id` and `redirect_url`."""
        headers = {"Idempotency-Key": idempotency_key}
        return self.call_answer(
            "POST", "/v1/transactions", json=body, headers=headers, budget=budget
        ).body

    def banks(self) -> dict[str, Any]:
        """`{"banks": [{"code", "name", ...}]}`: the banks a payer can choose."""
        return self.call("GET", "/v1/banks")


class BankClient(PartnerClient):
    """The card acquirer: tokens, authorizations, captures and refunds."""

    name = "bank"

    def tokenize(self, card: dict[str, Any]) -> dict[str, Any]:
        """`{"token", "brand", "last4", ...}`; the PAN never leaves this call."""
        return self.call("POST", "/v1/tokens", json=card)

    def authorize(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        """Authorize (and, with `capture`, capture) an amount on a token."""
        return self.call(
            "POST", "/v1/authorizations", json=body, headers={"Idempotency-Key": idempotency_key}
        )

    def get_authorization(self, auth_id: str) -> dict[str, Any]:
        """An authorization's current state (a pending one may have resolved)."""
        return self.call("GET", f"/v1/authorizations/{auth_id}")

    def find_authorizations(self, reference: str) -> list[dict[str, Any]]:
        """The authorizations the bank made for `reference`, oldest first (it charges nothing)."""
        found = self.call("GET", "/v1/authorizations", params={"reference": reference})
        return [a for a in found.get("authorizations", []) if isinstance(a, dict)]

    def void(self, auth_id: str) -> dict[str, Any]:
        """Cancel an uncaptured (approved or pending) authorization."""
        return self.call("POST", f"/v1/authorizations/{auth_id}/void")

    def capture(self, auth_id: str) -> dict[str, Any]:
        """Capture the whole authorized amount."""
        return self.call("POST", f"/v1/authorizations/{auth_id}/capture", json={})

    def refund(self, auth_id: str, amount: str, idempotency_key: str) -> dict[str, Any]:
        """Refund `amount` of a capture; the same key again answers the first refund."""
        return self.call(
            "POST",
            f"/v1/authorizations/{auth_id}/refunds",
            json={"amount": amount},
            headers={"Idempotency-Key": idempotency_key},
        )


def unavailable(what: str, exc: Exception) -> Problem:
    """A 503 the caller may retry (partner or AWS trouble)."""
    return Problem(503, f"{what}-unavailable", f"{exc}; retry later.")


def partner_call(name: str, call: Any, *, field_prefix: str | None = None) -> dict[str, Any]:
    """Run a partner call at creation: bad data → 422 with fields, trouble → 503."""
    try:
        result: dict[str, Any] = call()
        return result
    except PartnerUnavailable as exc:
        raise unavailable(name, exc) from exc
    except PartnerRejected as exc:
        if field_prefix is None or exc.status != 422:
            log.error("partner refused our request", partner=name, status=exc.status)
            raise unavailable(name, exc) from exc
        errors = [
            {
                "field": str(e.get("field", "body")).replace("body", field_prefix, 1),
                "message": str(e.get("message", "invalid")),
            }
            for e in exc.errors
        ]
        raise Problem(
            422,
            "validation-error",
            str(exc.body.get("detail", "Invalid payment data.")),
            errors=errors or None,
        ) from exc
