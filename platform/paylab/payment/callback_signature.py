"""Signed partner callbacks (PSE confirmations): HMAC-SHA256 with a secret in Secrets Manager.

The partner signs the raw body with the shared secret (`X-Sim-Signature: sha256=<hex>`); the
secret is `{"partner", "callback_secret"}` at stack output `PseCallbackSecretArn`. A mismatch
reads the secret again once (it may have been replaced since it was cached), at most once a
second, so forged callbacks cannot turn into a flood of Secrets Manager reads.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable

from paylab.core.secrets import SecretReader, shared_reader

PSE_OUTPUT = "PseCallbackSecretArn"
FIELD = "callback_secret"


def signature(secret: str, raw: bytes) -> str:
    """The header value for `raw`: `sha256=` + hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def _matches(secret: str, raw: bytes, header: str) -> bool:
    return hmac.compare_digest(signature(secret, raw).encode(), header.encode())


class CallbackSignature:
    """Checks a partner's callback signatures against its secret, refreshing once on mismatch."""

    def __init__(
        self,
        secret_id: str | Callable[[], str],
        *,
        reader: SecretReader | None = None,
        min_refresh_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret_id = secret_id
        self._reader = reader or shared_reader()
        self._min_refresh_s = min_refresh_s
        self._clock = clock
        self._refreshed_at: float | None = None
        self._lock = threading.Lock()

    @property
    def secret_id(self) -> str:
        """The ARN (or name) of the secret; the stack's outputs are read on first use."""
        return self._secret_id if isinstance(self._secret_id, str) else self._secret_id()

    def secret(self, *, refresh: bool = False) -> str:
        """The current signing secret (what the partner signs with)."""
        return str(self._reader.get_json(self.secret_id, refresh=refresh)[FIELD])

    def verify(self, raw: bytes, header: str | None) -> bool:
        """True when `header` signs `raw` with the current secret (read again once if not)."""
        if not header:
            return False
        cached = self.secret()
        if _matches(cached, raw, header):
            return True
        if not self._may_refresh():
            return False
        fresh = self.secret(refresh=True)
        return fresh != cached and _matches(fresh, raw, header)

    def _may_refresh(self) -> bool:
        now = self._clock()
        with self._lock:
            if self._refreshed_at is not None and now - self._refreshed_at < self._min_refresh_s:
                return False
            self._refreshed_at = now
            return True
