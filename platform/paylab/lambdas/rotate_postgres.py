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
import http.client
import os
import re
import secrets
import ssl
import urllib.request
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
# Amazon RDS's CA bundle (every region's roots), as the services' image carries it (Dockerfile).
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
_PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"
_MAX_BUNDLE_BYTES = 1 << 20  # the global bundle is ~170 KB
# Read once per runtime: a rotation runs its four steps in the same warm runtime.
_ca_bundle: dict[str, str] = {}


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
    """TLS for the connection: `verify-full` on AWS (the template sets it), `disable` locally.

    `verify-full` is libpq's: the server's certificate must chain to Amazon RDS's CA bundle
    and name the host the admin secret gives (the cluster's endpoint). The zip is built once
    for LocalStack and AWS and carries no bundle, so the runtime reads it over HTTPS (checked
    against the system's CAs) from Amazon's trust store, or from PAYLAB_DB_CA_BUNDLE_URL.
    """
    if mode == "disable":
        return None
    if mode != "verify-full":
        raise RotationError(f"PAYLAB_DB_SSL must be verify-full or disable, not {mode!r}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # hostname checked, certificate required
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_verify_locations(cadata=rds_ca_bundle())
    except ssl.SSLError as exc:
        raise RotationError(f"the RDS CA bundle holds no usable certificate: {exc}") from exc
    return context


def rds_ca_bundle() -> str:
    """The CA bundle the server's certificate must chain to (PEM), read once per runtime."""
    url = os.environ.get("PAYLAB_DB_CA_BUNDLE_URL") or RDS_CA_BUNDLE_URL
    if url not in _ca_bundle:
        if not url.startswith("https://"):
            raise RotationError(f"PAYLAB_DB_CA_BUNDLE_URL must be an https URL, not {url!r}")
        try:
            with urllib.request.urlopen(  # noqa: S310 (https only, checked above)
                url, timeout=_TIMEOUT_SECONDS, context=ssl.create_default_context()
            ) as response:
                pem = response.read(_MAX_BUNDLE_BYTES + 1).decode("ascii")
        except (OSError, http.client.HTTPException, UnicodeDecodeError) as exc:
            raise RotationError(f"the RDS CA bundle cannot be read from {url}: {exc!r}") from exc
        if _PEM_CERTIFICATE not in pem or len(pem) > _MAX_BUNDLE_BYTES:
            raise RotationError(f"{url} did not answer a PEM certificate bundle")
        _ca_bundle[url] = pem
    return _ca_bundle[url]


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
