"""auth use cases: issue, list and revoke API keys; log in and get a bearer token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from paylab.auth.models import ApiKey
from paylab.auth.revocation import RevocationList
from paylab.auth.settings import AuthSettings
from paylab.auth.signing import ALGORITHM, KeyRing
from paylab.auth.throttle import LoginThrottle
from paylab.core.db import unit_of_work

PUBLIC_PREFIX = "pub_"
PRIVATE_PREFIX = "prv_"
# Compared against when the public key is unknown, so both paths do the same work.
_DUMMY_DIGEST = hashlib.sha256(b"paylab:no-such-key").digest()


class InvalidCredentials(Exception):
    """Unknown public key, wrong private key or revoked key: deliberately indistinguishable."""


class LoginThrottled(Exception):
    """Too many failed logins for this public key or client IP."""

    def __init__(self, retry_after: str) -> None:
        super().__init__("too many failed logins")
        self.retry_after = retry_after


class TooManyKeys(Exception):
    """The merchant already has the maximum number of active keys."""


class UnknownKey(Exception):
    """No API key has this public key."""


@dataclass(frozen=True)
class IssuedKey:
    merchant_id: str
    public_key: str
    private_key: str  # shown once, never stored
    created_at: datetime


@dataclass(frozen=True)
class BearerToken:
    token: str
    expires_in: int


def new_key_pair() -> tuple[str, str]:
    """A public key (128 random bits, shareable) and a private key (256 random bits)."""
    return PUBLIC_PREFIX + secrets.token_hex(16), PRIVATE_PREFIX + secrets.token_urlsafe(32)


def private_key_digest(private_key: str) -> bytes:
    """What is stored: SHA-256 suffices for 256-bit random keys (no dictionary to attack)."""
    return hashlib.sha256(private_key.encode()).digest()


def issue_api_key(
    factory: sessionmaker[Session], merchant_id: str, *, max_active: int
) -> IssuedKey:
    """A new key pair for `merchant_id`; its private key is returned once."""
    public_key, private_key = new_key_pair()
    with unit_of_work(factory) as session:
        # Serialise key creation per merchant so the active-key cap cannot be raced past.
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:m, 0))"), {"m": merchant_id}
        )
        active = session.scalar(
            select(func.count())
            .select_from(ApiKey)
            .where(ApiKey.merchant_id == merchant_id, ApiKey.revoked_at.is_(None))
        )
        if (active or 0) >= max_active:
            raise TooManyKeys(merchant_id)
        row = ApiKey(
            merchant_id=merchant_id,
            public_key=public_key,
            private_key_sha256=private_key_digest(private_key),
            created_at=datetime.now(UTC),
        )
        session.add(row)
    return IssuedKey(merchant_id, public_key, private_key, row.created_at)


def list_api_keys(factory: sessionmaker[Session], merchant_id: str) -> list[ApiKey]:
    """Every key of a merchant, newest first (no secrets in them)."""
    with unit_of_work(factory) as session:
        rows = session.scalars(
            select(ApiKey)
            .where(ApiKey.merchant_id == merchant_id)
            .order_by(ApiKey.created_at.desc())
        )
        return list(rows)


def revoke_api_key(
    factory: sessionmaker[Session], revocations: RevocationList, public_key: str
) -> None:
    """Revoke a key (idempotent) and stop its tokens at the gateway; UnknownKey if unknown.

    Postgres first, then Redis: if publishing fails (RedisError), the key is revoked but its
    tokens still work, so the caller answers 503 and a repeated revoke publishes again.
    """
    with unit_of_work(factory) as session:
        row = session.scalar(select(ApiKey).where(ApiKey.public_key == public_key))
        if row is None:
            raise UnknownKey(public_key)
        session.execute(
            update(ApiKey)
            .where(ApiKey.public_key == public_key, ApiKey.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )
        revoked = session.execute(
            select(ApiKey.id, ApiKey.revoked_at).where(ApiKey.public_key == public_key)
        ).one()
    revocations.publish(revoked.id, revoked.revoked_at)


def verify_credentials(
    factory: sessionmaker[Session], public_key: str, private_key: str
) -> tuple[str, uuid.UUID] | None:
    """(merchant id, key id) when the pair is valid and active, else None (constant time)."""
    presented = private_key_digest(private_key)
    with unit_of_work(factory) as session:
        row = session.scalar(select(ApiKey).where(ApiKey.public_key == public_key))
        stored = row.private_key_sha256 if row is not None else _DUMMY_DIGEST
        matches = hmac.compare_digest(presented, stored)
        if row is None or not matches or not row.active:
            return None
        row.last_used_at = datetime.now(UTC)
        return row.merchant_id, row.id


def issue_token(
    ring: KeyRing,
    settings: AuthSettings,
    merchant_id: str,
    *,
    key_id: uuid.UUID,
    now: float | None = None,
) -> BearerToken:
    """A signed EdDSA JWT for `merchant_id`, naming the API key it was issued for."""
    issued_at = int(now if now is not None else time.time())
    key = ring.current()
    claims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": merchant_id,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + settings.token_ttl_seconds,
        "jti": uuid.uuid4().hex,
        # The gateway refuses the token as soon as this API key is revoked.
        "key_id": str(key_id),
    }
    token = jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid})
    return BearerToken(token, settings.token_ttl_seconds)


def login(
    factory: sessionmaker[Session],
    ring: KeyRing,
    throttle: LoginThrottle,
    settings: AuthSettings,
    *,
    public_key: str,
    private_key: str,
    client_ip: str,
) -> BearerToken:
    """Exchange a key pair for a bearer token, throttling failures per key and per IP."""
    refused = throttle.check(public_key, client_ip)
    if refused is not None:
        raise LoginThrottled(refused.retry_after_header)
    verified = verify_credentials(factory, public_key, private_key)
    if verified is None:
        throttle.record_failure(public_key, client_ip)
        raise InvalidCredentials()
    merchant_id, key_id = verified
    return issue_token(ring, settings, merchant_id, key_id=key_id)
