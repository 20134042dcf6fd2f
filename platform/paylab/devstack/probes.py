"""Health probes for `paylab up` and `status`: HTTP checks and external Postgres or Redis."""

from __future__ import annotations

import threading

import httpx

# One client for every probe: `httpx.get` builds a client (and an SSL context) per call, ~20 ms
# of CPU, and `up` polls every 50 ms while LocalStack and the services boot on the same two
# cores (a third of a core, measured). No keep-alive: a probe must reach a restarted server,
# not a stale socket.
_client: httpx.Client | None = None
_client_lock = threading.Lock()


def _probe_client() -> httpx.Client:
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
        return _client


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True when a GET of `url` answers 200 within `timeout` seconds."""
    try:
        return _probe_client().get(url, timeout=timeout).status_code == 200
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
