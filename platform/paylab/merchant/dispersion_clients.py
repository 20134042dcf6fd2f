"""Dispersion's adapters: wallet payouts, the bank's payouts API, the Redis lock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import redis
import structlog

from paylab.core.internal_auth import MERCHANT_HEADER
from paylab.core.partner_keys import partner_auth
from paylab.core.retries import Transient, with_retries
from paylab.merchant.clients import (
    BACKOFF_S,
    InternalClient,
    UpstreamRefused,
    UpstreamUnavailable,
    request,
)
from paylab.merchant.dispersion import (
    BankAnswer,
    InsufficientFunds,
    Payee,
    Row,
    Unavailable,
    WalletRefused,
)
from paylab.merchant.settings import MerchantSettings

log = structlog.get_logger("paylab.merchant.dispersion")
# The bank knows passports as PP; a NIT goes without its check digit.
BANK_DOC_TYPES = {"NIT": "NIT", "CC": "CC", "CE": "CE", "PPN": "PP"}


class WalletPayouts:
    """wallet's balance, /internal/payouts and their returns."""

    def __init__(self, client: InternalClient) -> None:
        self.client = client

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self.client.call(method, path, **kwargs)
        except UpstreamUnavailable as exc:
            raise Unavailable(f"wallet: {exc}") from exc

    def available(self, merchant_id: str, currency: str) -> Decimal:
        """The merchant's available balance (0 when it has no account in `currency`)."""
        try:
            body = self._call(
                "GET",
                "/v1/merchants/me/balance",
                params={"currency": currency},
                headers={MERCHANT_HEADER: merchant_id},
            )
        except UpstreamRefused as exc:
            if exc.status == 404:
                return Decimal("0.00")
            raise
        return Decimal(str(body["available"]))

    def debit(
        self, operation_id: str, merchant_id: str, amount: Decimal, currency: str
    ) -> uuid.UUID:
        """The payout posting (the wallet replays it for a repeated operation id)."""
        body = {
            "operation_id": operation_id,
            "merchant_id": merchant_id,
            "amount": f"{amount:.2f}",
            "currency": currency,
        }
        try:
            answer = self._call("POST", "/internal/payouts", json=body)
        except UpstreamRefused as exc:
            if exc.slug == "insufficient-funds":
                raise InsufficientFunds(str(exc)) from exc
            raise WalletRefused(str(exc)) from exc
        return uuid.UUID(str(answer["id"]))

    def give_back(self, operation_id: str, reason: str) -> uuid.UUID:
        """The payout_return posting (once per payout)."""
        answer = self._call(
            "POST", f"/internal/payouts/{operation_id}/return", json={"reason": reason}
        )
        return uuid.UUID(str(answer["id"]))


class BankPayouts:
    """The bank's POST /v1/payouts and GET /v1/payouts/{id}, retried on transport errors and 5xx.

    A 4xx other than 401/409/429 is a definitive refusal (the bank did not take the payout);
    a 409 means the key was used with another body, so it is reported, never guessed at.
    """

    def __init__(self, http: httpx.Client, attempts: int) -> None:
        self.http, self.attempts = http, attempts

    def pay(self, key: str, row: Row, payee: Payee) -> BankAnswer:
        """Pay the row's amount into the payee's account, once per key."""
        digits = (payee.doc_number or "").split("-")[0]
        body = {
            "amount": f"{row.amount:.2f}",
            "currency": row.currency,
            "reference": f"disp-{row.id}",
            "bank_code": payee.bank_code,
            "account_type": payee.account_type,
            "account_number": payee.account_number,
            "holder_name": (payee.holder_name or "")[:100],
            "holder_doc_type": BANK_DOC_TYPES.get(payee.doc_type, "NIT"),
            "holder_doc_number": digits,
        }
        return self._send("POST", "/v1/payouts", json=body, headers={"Idempotency-Key": key})

    def status(self, payout_id: str) -> BankAnswer:
        """The payout's state now.

        Only the payout's own `rejected` state is a refusal: a 4xx to the question (a payout
        the bank cannot find just now) says nothing about the money, and returning it to the
        merchant could pay it twice.
        """
        return self._send("GET", f"/v1/payouts/{payout_id}", refusal=False)

    def _send(self, method: str, path: str, *, refusal: bool = True, **kwargs: Any) -> BankAnswer:
        return with_retries(
            lambda _: self._once(method, path, refusal, **kwargs),
            attempts=self.attempts,
            backoff_s=BACKOFF_S,
            unavailable=lambda cause: Unavailable(f"bank: {cause}"),
        )

    def _once(self, method: str, path: str, refusal: bool, **kwargs: Any) -> BankAnswer:
        response = request(self.http, method, path, **kwargs)
        code = response.status_code
        if code >= 500 or code in (401, 409, 429):
            raise Transient(f"{method} {path} answered {code}: {response.text[:200]}")
        try:
            body = response.json()
        except ValueError as exc:  # a truncated answer: whether it paid is unknown
            raise Transient(f"{method} {path}: unreadable answer ({code})") from exc
        if code >= 400:
            detail = body.get("detail") or body.get("title") if isinstance(body, dict) else None
            if not refusal:
                raise Transient(f"{method} {path} answered {code}: {detail or 'no detail'}")
            return BankAnswer("rejected", None, f"HTTP {code}: {detail or 'refused'}"[:200])
        status = str(body.get("status", ""))
        if status not in ("paid", "pending", "rejected"):
            raise Transient(f"{method} {path}: unknown payout status {status!r}")
        return BankAnswer(status, str(body.get("id") or "") or None, body.get("failure_reason"))


def build_bank(settings: MerchantSettings) -> BankPayouts:
    """The bank client with the partner API key (read per request, refreshed on a 401)."""
    http = httpx.Client(
        base_url=settings.bank_url,
        timeout=settings.bank_timeout_s,
        headers={"accept": "application/json"},
        auth=partner_auth("bank"),
        trust_env=False,
    )
    return BankPayouts(http, settings.bank_attempts)


class RedisLock:
    """`dispersion:{merchant}:{date}`: one run at a time per merchant and day.

    It saves work, not money: the unique row and the idempotent wallet and bank calls keep a
    run without the lock (Redis down) from paying twice, so an unreachable Redis is logged
    and the run goes on.
    """

    def __init__(self, client: redis.Redis, prefix: str, ttl_s: float, wait_s: float) -> None:
        self.client, self.prefix, self.ttl_s, self.wait_s = client, prefix, ttl_s, wait_s

    @contextmanager
    def __call__(self, merchant_id: str, day: date) -> Iterator[bool]:
        """Yield True while the lock is held; False when another run kept it past the wait."""
        lock = self.client.lock(
            f"{self.prefix}dispersion:{merchant_id}:{day.isoformat()}",
            timeout=self.ttl_s,
            blocking_timeout=self.wait_s,
        )
        try:
            acquired = bool(lock.acquire())
        except (redis.RedisError, OSError) as exc:
            log.error("dispersion.lock_unavailable", merchant_id=merchant_id, error=repr(exc))
            yield True
            return
        if not acquired:
            yield False
            return
        try:
            yield True
        finally:
            try:
                lock.release()
            except (redis.RedisError, OSError) as exc:  # expired or Redis gone: it times out
                log.warning("dispersion.lock_release_failed", error=repr(exc))
