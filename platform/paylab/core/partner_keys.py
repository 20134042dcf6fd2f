"""Partner API keys (PSE, bank, antifraud, SMS): read from Secrets Manager, sent as `X-Api-Key`.

Every partner client takes `PartnerKeyAuth` as its httpx `auth`: the header carries the key
from the partner's secret (stack output `<Partner>ApiKeySecretArn`, value `{"partner",
"api_key"}`); a 401 tries the next candidate value (a fresh AWSCURRENT, then AWSPENDING, see
`SecretReader.candidates`) once each, so a rotated key is picked up without a failed request.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import httpx

from paylab.core.secrets import SecretReader, shared_reader

HEADER = "X-Api-Key"
PARTNERS = ("pse", "bank", "antifraud", "sms")


def secret_output(partner: str) -> str:
    """The stack output holding the ARN of `partner`'s API key secret."""
    if partner not in PARTNERS:
        raise ValueError(f"unknown partner {partner!r}; choose one of: {', '.join(PARTNERS)}")
    return f"{partner.capitalize()}ApiKeySecretArn"


def _secret_id_from_stack(partner: str) -> Callable[[], str]:
    def resolve() -> str:
        from paylab.core.stack_outputs import output

        return output(secret_output(partner))

    return resolve


class PartnerKeyAuth(httpx.Auth):
    """httpx auth: `X-Api-Key` from the partner's secret; on 401, the next candidate key."""

    requires_request_body = True  # a retry after a 401 sends the same body again

    def __init__(
        self,
        partner: str,
        *,
        reader: SecretReader | None = None,
        secret_id: str | Callable[[], str] | None = None,
    ) -> None:
        self.partner = partner
        self._reader = reader or shared_reader()
        # The stack's outputs are read on first use, not at construction: services build
        # their clients before the stack may be deployed.
        if secret_id is None:
            secret_id = _secret_id_from_stack(partner)
        self._secret_id = secret_id

    @property
    def secret_id(self) -> str:
        """The ARN (or name) of the partner's secret."""
        return self._secret_id if isinstance(self._secret_id, str) else self._secret_id()

    def current_key(self) -> str:
        """The key requests carry first (the cached AWSCURRENT value)."""
        return str(self._reader.get_json(self.secret_id)["api_key"])

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send with the current key; after a 401, retry once per other candidate key."""
        secret_id = self.secret_id
        tried: set[str] = set()
        response: httpx.Response | None = None
        for secret in self._reader.candidates(secret_id):
            key = str(secret.get("api_key", ""))
            if not key or key in tried:
                continue
            tried.add(key)
            request.headers[HEADER] = key
            response = yield request
            if response.status_code != 401:
                return
        if response is None:
            raise LookupError(f"secret {secret_id} holds no api_key")


def partner_auth(partner: str, reader: SecretReader | None = None) -> PartnerKeyAuth:
    """The auth a client of `partner` passes to httpx (e.g. `httpx.Client(auth=...)`)."""
    secret_output(partner)  # fail fast on a misspelt partner
    return PartnerKeyAuth(partner, reader=reader)
