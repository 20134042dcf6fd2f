"""Health probes for `paylab up` and `status`: HTTP checks and external Postgres or Redis."""

from __future__ import annotations

import httpx


def http_ok(url: str) -> bool:
    """True when a GET of `url` answers 200 within a second."""
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def redact(url: str) -> str:
    """`url` with its password hidden, for a status report."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as its scheme only
        return url.split(":", 1)[0] + "://..."


def external_ok(kind: str, url: str) -> bool:
    """True when the external `kind` ("redis" or "postgres") at `url` answers."""
    try:
        if kind == "redis":
            import redis

            return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
        import psycopg

        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:  # any failure to reach it means "not healthy"
        return False
