"""Service-to-service calls (gateway and Lambdas → services) carry the internal credential.

The credential lives in Secrets Manager (stack output `InternalServiceCredentialSecretArn`)
and rotates every 30 days (`rotate_shared_key`). A mismatch reads the secret again, so a new
credential is accepted at once; the one it replaced (AWSPREVIOUS) is accepted for
`PREVIOUS_GRACE_SECONDS` after the rotation (core/accepted_keys), so callers that cache the
value (up to 5 minutes) keep working until they read it again. A key two rotations old, or
one past the grace, is refused within 30 s.
"""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
import structlog
from fastapi import Depends, Header

from paylab.core.accepted_keys import AcceptedKeys, KeysUnavailable
from paylab.core.lazy import Lazy
from paylab.core.problems import Problem
from paylab.core.secrets import SecretReader
from paylab.core.stack_outputs import output

log = structlog.get_logger(__name__)
HEADER = "X-Paylab-Internal-Key"
MERCHANT_HEADER = "X-Paylab-Merchant-Id"
_OUTPUT = "InternalServiceCredentialSecretArn"
#: The problem type of a refused (not missing) internal credential.
REFUSED = "internal-credential-refused"
#: How long after a rotation the replaced credential still works: longer than any caller
#: caches it (the Lambdas: 300 s; the services' clients: 30 s; the gateway: 30 s on top).
PREVIOUS_GRACE_SECONDS = 900.0

_reader = SecretReader(ttl_seconds=30.0)
_secret_id: Lazy[str] = Lazy(lambda: output(_OUTPUT))
# What receivers accept, read again every 30 s (not 5 minutes): after a leak, rotating twice
# takes the leaked credential out of AWSPREVIOUS, and every process refuses it within 30 s.
_accepted = AcceptedKeys(lambda: _secret_id(), _reader, grace=PREVIOUS_GRACE_SECONDS)
# The operators' key for the gateway's /v1/ops routes: another secret, so that holding it
# opens no service's /internal routes.
_operator_secret_id: Lazy[str] = Lazy(lambda: output("OperatorKeySecretArn"))


def internal_credential(*, refresh: bool = False) -> str:
    """The current internal credential (what callers put in X-Paylab-Internal-Key)."""
    return str(_reader.get_json(_secret_id(), refresh=refresh)["password"])


def operator_key(*, refresh: bool = False) -> str:
    """The current operator key (what operators put in X-Paylab-Ops-Key)."""
    return str(_reader.get_json(_operator_secret_id(), refresh=refresh)["password"])


def is_internal_caller(presented: str | None) -> bool:
    """Whether `presented` is an accepted internal credential (blocking: may call AWS).

    A 503 problem when the secret cannot be read and no recent copy is left."""
    if not presented:
        return False
    try:
        return _accepted.check(presented)
    except KeysUnavailable as exc:
        raise _unavailable(exc) from exc


def _unavailable(exc: KeysUnavailable) -> Problem:
    log.error("internal_credential_unavailable", error=str(exc))
    return Problem(
        503,
        "credentials-unavailable",
        "Credentials cannot be checked right now; try again.",
        title="Service unavailable",
        headers={"Retry-After": "5"},
    )


async def require_internal_caller(
    key: Annotated[str | None, Header(alias=HEADER, include_in_schema=False)] = None,
) -> None:
    """FastAPI dependency: 401 unless the caller presents the internal credential.

    The common case (a cached credential matches) runs on the event loop; fetching the
    secret (first use, expired cache, a rotated credential) runs in a worker thread. A
    refused key gets the type `internal-credential-refused`, which tells the gateway to read
    the credential again and retry.
    """
    if not key:
        raise Problem(401, "unauthenticated", f"Missing {HEADER}.", title="Unauthorized")
    cached = _accepted.cached()
    if cached is not None and _accepted.accepts(key, cached):
        return
    if not await anyio.to_thread.run_sync(is_internal_caller, key):
        raise Problem(401, REFUSED, f"Invalid {HEADER}.", title="Unauthorized")


async def merchant_id(
    value: Annotated[str | None, Header(alias=MERCHANT_HEADER, include_in_schema=False)] = None,
) -> str:
    """The merchant the gateway authenticated (it sets this header after checking the JWT)."""
    if not value:
        raise Problem(401, "unauthenticated", "No authenticated merchant.", title="Unauthorized")
    return value


InternalCaller = Annotated[None, Depends(require_internal_caller)]
MerchantId = Annotated[str, Depends(merchant_id)]
