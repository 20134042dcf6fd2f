"""The wallet service: `uvicorn --factory paylab.wallet.app:create --port 8003`."""

from __future__ import annotations

import threading
from collections.abc import Callable

from fastapi import FastAPI, Request
from sqlalchemy import Engine
from starlette.responses import Response

from paylab.core.app import create_app
from paylab.core.db import service_engine
from paylab.core.problems import problem_response
from paylab.wallet.operations import WalletError
from paylab.wallet.routes import internal, public
from paylab.wallet.service import WalletService
from paylab.wallet.settings import WalletSettings, get_wallet_settings

TITLE = "Paylab wallet"


class _LazyService:
    """Builds the service on first use: creating the app connects to nothing."""

    def __init__(self, settings: WalletSettings, engine: Callable[[], Engine]) -> None:
        self._settings = settings
        self._engine = engine
        self._service: WalletService | None = None
        self._lock = threading.Lock()

    def __call__(self) -> WalletService:
        with self._lock:
            if self._service is None:
                self._service = WalletService(self._engine(), self._settings)
            return self._service


def create(engine: Engine | None = None, settings: WalletSettings | None = None) -> FastAPI:
    """The wallet app; `engine` defaults to one connected as `paylab_wallet`."""
    settings = settings or get_wallet_settings()  # invalid settings fail here, at startup
    app = create_app("wallet", [public, internal], title=TITLE)

    def connect() -> Engine:
        return engine or service_engine("wallet", pool_size=10)

    app.state.wallet = _LazyService(settings, connect)

    async def on_wallet_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, WalletError)
        return problem_response(exc.status, exc.slug, exc.detail, errors=exc.errors)

    app.add_exception_handler(WalletError, on_wallet_error)
    return app
