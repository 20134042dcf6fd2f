"""Service-to-service calls (gateway and Lambdas → services) carry the internal credential.

The credential lives in Secrets Manager (stack output `InternalServiceCredentialSecretArn`);
a mismatch refreshes the cached value once, so a rotated credential is picked up at once.
"""

from __future__ import annotations

import hmac
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Header

from paylab.core.lazy import Lazy
from paylab.core.problems import Problem
from paylab.core.secrets import SecretReader, parse_json
from paylab.core.stack_outputs import output

HEADER = "X-Paylab-Internal-Key"
MERCHANT_HEADER = "X-Paylab-Merchant-Id"
_OUTPUT = "InternalServiceCredentialSecretArn"

_reader = SecretReader()
_secret_id: Lazy[str] = Lazy(lambda: output(_OUTPUT))
# The operators' key for the gateway's /v1/ops routes: another secret, so that holding it
# opens no service's /internal routes.
_operator_secret_id: Lazy[str] = Lazy(lambda: output("OperatorKeySecretArn"))


def internal_credential(*, refresh: bool = False) -> str:
    """The current internal credential (what callers put in X-Paylab-Internal-Key)."""
    return str(_reader.get_json(_secret_id(), refresh=refresh)["password"])


def operator_key(*, refresh: bool = False) -> str:
    """The current operator key (what operators put in X-Paylab-Ops-Key)."""
    return str(_reader.get_json(_operator_secret_id(), refresh=refresh)["password"])


def _cached_credential() -> str | None:
    """The credential when it is in memory and fresh (no I/O), else None."""
    secret_id = _secret_id.built
    raw = _reader.peek(secret_id) if secret_id is not None else None
    return None if raw is None else str(parse_json(secret_id or "", raw)["password"])


def _same(presented: str, credential: str) -> bool:
    return hmac.compare_digest(presented.encode(), credential.encode())


def _matches(presented: str) -> bool:
    """Against the cached credential, then a fresh one (a rotation happened): may call AWS."""
    return _same(presented, internal_credential()) or _same(
        presented, internal_credential(refresh=True)
    )


async def require_internal_caller(
    key: Annotated[str | None, Header(alias=HEADER, include_in_schema=False)] = None,
) -> None:
    """FastAPI dependency: 401 unless the caller presents the internal credential.

    The common case (the cached credential matches) runs on the event loop; fetching the
    secret (first use, expired cache, a rotated credential) runs in a worker thread.
    """
    if not key:
        raise Problem(401, "unauthenticated", f"Missing {HEADER}.", title="Unauthorized")
    cached = _cached_credential()
    if cached is not None and _same(key, cached):
        return
    if not await anyio.to_thread.run_sync(_matches, key):
        raise Problem(401, "unauthenticated", f"Invalid {HEADER}.", title="Unauthorized")


async def merchant_id(
    value: Annotated[str | None, Header(alias=MERCHANT_HEADER, include_in_schema=False)] = None,
) -> str:
    """The merchant the gateway authenticated (it sets this header after checking the JWT)."""
    if not value:
        raise Problem(401, "unauthenticated", "No authenticated merchant.", title="Unauthorized")
    return value


InternalCaller = Annotated[None, Depends(require_internal_caller)]
MerchantId = Annotated[str, Depends(merchant_id)]
