"""The demo data `./paylab up` seeds: a merchant with API keys and payer wallets with money.

Idempotent: the merchant's accounts and wallets are created once (idempotency keys), and its
key pair is kept in `.paylab/demo.json` (git-ignored, mode 600) while it still logs in. The
merchant service learns the merchant too (`PUT /internal/merchants/demo-merchant`, create-or-
get), so its payments send signed confirmations (to the merchant-side receiver, which is told
its p_key) and dispersion can pay it out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from paylab.core.internal_auth import HEADER, MERCHANT_HEADER, internal_credential
from paylab.devstack.errors import StackError

MERCHANT_ID = "demo-merchant"
# Its profile in the merchant service (used when it is first registered there); the NIT's
# check digit is DIAN's, and an account number ending in 6789 is one the bank simulator pays.
PROFILE: dict[str, Any] = {
    "name": "Tienda Demo Paylab",
    "email": "pagos@demo-paylab.co",
    "phone": "+573001112233",
    "doc_type": "NIT",
    "doc_number": "800100200-8",
    "payout_account": {
        "bank_code": "1007",
        "account_type": "savings",
        "account_number": "00123456789",
        "holder_name": "Tienda Demo Paylab SAS",
    },
}
# (idempotency key, currency, top-up): one rich payer, one nearly broke (for rejections).
PAYERS = (("demo-payer-rich", "COP", "1000000.00"), ("demo-payer-poor", "COP", "10000.00"))


class DemoSeeder:
    """Creates the demo merchant through the services' own APIs (no SQL behind their backs)."""

    def __init__(
        self,
        state_dir: Path,
        auth_url: str,
        wallet_url: str,
        merchant_url: str | None = None,
        receiver_url: str | None = None,
    ) -> None:
        self.state_file = state_dir / "demo.json"
        self.auth_url, self.wallet_url = auth_url, wallet_url
        self.merchant_url, self.receiver_url = merchant_url, receiver_url

    def _client(self) -> httpx.Client:
        headers = {HEADER: internal_credential(refresh=True), MERCHANT_HEADER: MERCHANT_ID}
        return httpx.Client(headers=headers, timeout=10.0)

    def seed(self) -> dict[str, Any]:
        """Make sure the demo merchant exists; returns what `status --json` shows."""
        with self._client() as http:
            keys = self._keys(http)
            _ok(
                http.post(
                    f"{self.wallet_url}/internal/accounts",
                    json={"merchant_id": MERCHANT_ID, "currency": "COP"},
                )
            )
            wallets = [self._payer(http, *payer) for payer in PAYERS]
            signature = self._merchant(http, keys["public_key"]) if self.merchant_url else {}
        demo = {"merchant_id": MERCHANT_ID, **keys, **signature, "wallets": wallets}
        self.state_file.write_text(json.dumps(demo, indent=2))
        self.state_file.chmod(0o600)
        return demo

    def load(self) -> dict[str, Any] | None:
        """What the last seeding recorded, if any."""
        try:
            loaded: dict[str, Any] = json.loads(self.state_file.read_text())
            return loaded
        except (FileNotFoundError, ValueError):
            return None

    def _keys(self, http: httpx.Client) -> dict[str, str]:
        previous = self.load()
        if previous and self._logs_in(http, previous):
            return {"public_key": previous["public_key"], "private_key": previous["private_key"]}
        issued = _ok(http.post(f"{self.auth_url}/internal/merchants/{MERCHANT_ID}/api-keys"))
        return {"public_key": issued["public_key"], "private_key": issued["private_key"]}

    def _logs_in(self, http: httpx.Client, demo: dict[str, Any]) -> bool:
        response = http.post(
            f"{self.auth_url}/v1/auth/login",
            json={"public_key": demo.get("public_key"), "private_key": demo.get("private_key")},
        )
        return response.status_code == 200

    def _merchant(self, http: httpx.Client, public_key: str) -> dict[str, Any]:
        """Register the demo merchant in the merchant service; its signature pair."""
        profile = dict(PROFILE, api_public_key=public_key)
        if self.receiver_url:  # only on its first registration: a later change of URL stays
            profile["confirmation_url"] = f"{self.receiver_url}/confirmation"
        seeded = _ok(
            http.put(f"{self.merchant_url}/internal/merchants/{MERCHANT_ID}", json=profile)
        )
        keys = seeded["signature_keys"]
        if self.receiver_url:  # the receiver checks x_signature as the merchant's endpoint would
            _ok(
                http.put(
                    f"{self.receiver_url}/_sim/merchants/{keys['p_cust_id_cliente']}",
                    json={"p_key": keys["p_key"]},
                )
            )
        return {"signature_keys": {k: keys[k] for k in ("p_cust_id_cliente", "p_key")}}

    def _payer(self, http: httpx.Client, key: str, currency: str, amount: str) -> dict[str, Any]:
        wallet = _ok(
            http.post(
                f"{self.wallet_url}/v1/wallets",
                json={"currency": currency, "reference": key},
                headers={"Idempotency-Key": key},
            )
        )
        _ok(
            http.post(
                f"{self.wallet_url}/internal/wallets/{wallet['id']}/topups",
                json={"amount": amount, "currency": currency},
                headers={"Idempotency-Key": f"{key}-topup"},
            )
        )
        balance = _ok(http.get(f"{self.wallet_url}/v1/wallets/{wallet['id']}"))
        return {
            "account_id": wallet["id"],
            "reference": key,
            "available": balance["available"],
            "currency": currency,
        }


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise StackError(
            f"seeding the demo merchant failed: {response.request.method} "
            f"{response.request.url.path} answered {response.status_code}: {response.text[:200]}"
        )
    return response.json()
