"""`requests` with kept-alive connections, for LocalStack code that calls `requests.post`."""

import threading
from typing import Any


class PooledRequests:
    """`requests` as SNS's HTTP publisher uses it, with `post` on a kept-alive session.

    One session per thread (requests.Session is not documented thread-safe): the publisher
    runs on a fixed pool of worker threads, so each keeps its connections to the subscribers.
    """

    def __init__(self, real: Any) -> None:
        self._real = real
        self._local = threading.local()

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            from requests.adapters import HTTPAdapter
            from urllib3.util.retry import Retry

            session = self._real.Session()
            # A kept-alive connection the subscriber closed as we reused it fails before any
            # answer: send once more on a new one. SNS delivers at least once, so a repeat is
            # within its contract (Paylab's subscribers deduplicate on the event id).
            retry = Retry(total=1, connect=1, read=1, status=0, other=0, allowed_methods=None)
            adapter = HTTPAdapter(max_retries=retry)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
        return session

    def post(self, url: str, **kwargs: Any) -> Any:
        """POST on this thread's session (connections kept alive between deliveries)."""
        return self._session().post(url, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)
