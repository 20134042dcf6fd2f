"""Rotation Lambda for a service's Postgres role password (one role per service).

The secret is `{"username": "paylab_payment", "password": ...}`; the admin secret
(PAYLAB_DB_ADMIN_SECRET_ARN: `{"host", "port", "dbname", "username", "password"}`, kept by
`paylab up` locally, Aurora's master secret on AWS) says where the server is and may change
passwords. setSecret changes the role's password with a SCRAM verifier computed here, so the
plain password never reaches the server's logs. Open connections keep working (Postgres
checks passwords only at connect); new ones fall back to AWSPENDING until finishSecret
(`paylab.core.db.rotating_password`).

`pg8000` (pure Python, vendored into the Lambda zip by `paylab.infra.artifacts`) is the
driver: the same zip runs on AWS's runtime and on LocalStack's host executor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import ssl
from typing import Any

from paylab.lambdas.rotate_base import (
    Rotation,
    RotationError,
    env,
    random_token,
    run,
    secretsmanager,
    value,
)

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_ITERATIONS = 4096
_TIMEOUT_SECONDS = 10


def scram_verifier(password: str, salt: bytes | None = None) -> str:
    """Postgres's SCRAM-SHA-256 verifier for `password` (what `\\password` in psql sends)."""
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def alter_role_sql(username: str, password: str) -> str:
    """`ALTER ROLE` with a verifier; the role name is checked, not just quoted."""
    if not _ROLE.match(username):
        raise RotationError(f"refusing to alter a role named {username!r}")
    # A verifier holds only base64, digits, '$' and ':' - nothing that can end the literal.
    return f"ALTER ROLE \"{username}\" WITH PASSWORD '{scram_verifier(password)}'"


def _admin() -> dict[str, Any]:
    admin = value(secretsmanager(), env("PAYLAB_DB_ADMIN_SECRET_ARN"), "AWSCURRENT")
    if admin is None or not {"host", "port", "dbname", "username", "password"} <= admin.keys():
        raise RotationError("the database admin secret lacks host/port/dbname/username/password")
    return admin


def connect(server: dict[str, Any], username: str, password: str) -> Any:
    """A pg8000 connection to `server` as `username`."""
    import pg8000.native  # type: ignore[import-untyped]  # vendored; loaded only here

    return pg8000.native.Connection(
        user=username,
        password=password,
        host=str(server["host"]),
        port=int(server["port"]),
        database=str(server["dbname"]),
        timeout=_TIMEOUT_SECONDS,
        ssl_context=ssl_context(os.environ.get("PAYLAB_DB_SSL", "disable")),
    )


def ssl_context(mode: str) -> ssl.SSLContext | None:
    """TLS for the connection: `require` on AWS (the template sets it), `disable` locally.

    `require` encrypts without checking the server's certificate, as libpq's sslmode=require
    does: the zip, built from the repository, carries no RDS CA bundle to verify against (the
    services' tasks verify with the one their image carries; docs/decisions.md).
    """
    if mode == "disable":
        return None
    if mode != "require":
        raise RotationError(f"PAYLAB_DB_SSL must be require or disable, not {mode!r}")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def generate(current: dict[str, Any]) -> dict[str, Any]:
    """The same role, a new random password."""
    if "username" not in current:
        raise RotationError("the database secret has no username")
    return {**current, "password": random_token(32)}


def apply(pending: dict[str, Any], _current: dict[str, Any]) -> None:
    """Give the role the pending password (idempotent: a retry sets it again)."""
    admin = _admin()
    conn = connect(admin, str(admin["username"]), str(admin["password"]))
    try:
        conn.run(alter_role_sql(str(pending["username"]), str(pending["password"])))
    finally:
        conn.close()


def test(pending: dict[str, Any]) -> None:
    """Log in as the role with the pending password."""
    try:
        conn = connect(_admin(), str(pending["username"]), str(pending["password"]))
    except Exception as exc:  # pg8000 raises its own DatabaseError/InterfaceError
        raise RotationError(f"cannot log in as {pending['username']}: {exc}") from None
    try:
        conn.run("SELECT 1")
    finally:
        conn.close()


ROTATION = Rotation(generate=generate, apply=apply, test=test)


def handler(event: dict[str, Any], _context: Any) -> None:
    """Secrets Manager's rotation entry point."""
    run(event, ROTATION)
