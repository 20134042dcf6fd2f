"""The wallet's internal refund API, as the payment service calls it.

Same retry and error mapping as the partner clients (5xx and transport errors retried,
4xx → PartnerRejected), plus the internal credential, fetched again once on a 401 (it may
have just been rotated).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from paylab.core.internal_auth import HEADER, internal_credential
from paylab.payment.partners import Answer, PartnerClient, PartnerRejected


class WalletClient(PartnerClient):
    """Reserve, complete and cancel a payment's refund in the wallet."""

    name = "wallet"

    def __init__(
        self,
        *args: Any,
        credential: Callable[..., str] = internal_credential,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._credential = credential

    def _internal(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._internal_answer(method, path, body).body

    def _internal_answer(self, method: str, path: str, body: dict[str, Any] | None) -> Answer:
        try:
            return self.call_answer(method, path, json=body, headers={HEADER: self._credential()})
        except PartnerRejected as exc:
            if exc.status != 401:
                raise
        fresh = self._credential(refresh=True)
        return self.call_answer(method, path, json=body, headers={HEADER: fresh})

    def reserve_refund(
        self, *, operation_id: str, payment_id: str, merchant_id: str, amount: str
    ) -> dict[str, Any]:
        """The refund (reserved, or as it is now for a known operation id).

        `found_again` is true when an earlier call reserved it (a retry): its processor step
        may have happened already.
        """
        body = {
            "operation_id": operation_id,
            "payment_id": payment_id,
            "merchant_id": merchant_id,
            "amount": amount,
        }
        answer = self._internal_answer("POST", "/internal/refunds", body)
        return {**answer.body, "found_again": answer.replayed}

    def complete_refund(
        self, refund_id: str, *, operation_id: str, reference: str | None
    ) -> dict[str, Any]:
        """Move the reserved money to the payer or the clearing account (idempotent)."""
        body = {"operation_id": operation_id, "reference": reference}
        return self._internal("POST", f"/internal/refunds/{refund_id}/complete", body)

    def cancel_refund(
        self,
        refund_id: str,
        *,
        operation_id: str,
        reason: str,
        if_not_attempted_since: datetime | None = None,
    ) -> dict[str, Any]:
        """Give the merchant its reserved money back (idempotent); with `if_not_attempted_since`
        only if no retry found the refund since then (409 `refund-in-flight`)."""
        body: dict[str, Any] = {"operation_id": operation_id, "reason": reason}
        if if_not_attempted_since is not None:
            body["if_not_attempted_since"] = if_not_attempted_since.isoformat()
        return self._internal("POST", f"/internal/refunds/{refund_id}/cancel", body)

    def list_refunds(
        self,
        *,
        payment_id: str | None = None,
        status: str | None = None,
        attempted_before: datetime | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[dict[str, Any]]:
        """Refunds, oldest first: a payment's, or those in `status` last attempted before a time.

        `after`: the last refund of the previous page.
        """
        params: dict[str, str] = {"limit": str(limit)}
        if after is not None:
            params["after"] = after
        if payment_id is not None:
            params["payment_id"] = payment_id
        if status is not None:
            params["status"] = status
        if attempted_before is not None:
            params["attempted_before"] = attempted_before.isoformat()
        path = f"/internal/refunds?{urlencode(params)}"
        answer = self._internal_answer("GET", path, None)
        return list(answer.body["refunds"])
