"""The wallet service: `uvicorn --factory paylab.wallet.app:create --port 8003`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from sqlalchemy import Engine
from starlette.responses import Response

from paylab.core.app import create_app
from paylab.core.db import service_engine
from paylab.core.lazy import Lazy
from paylab.core.problems import problem_response
from paylab.wallet import jobs
from paylab.wallet.operations import WalletError
from paylab.wallet.refund_routes import refunds
from paylab.wallet.routes import internal, public
from paylab.wallet.service import WalletService
from paylab.wallet.settings import WalletSettings, get_wallet_settings

TITLE = "Paylab wallet"


def create(engine: Engine | None = None, settings: WalletSettings | None = None) -> FastAPI:
    """The wallet app; `engine` defaults to one connected as `paylab_wallet`."""
    settings = settings or get_wallet_settings()  # invalid settings fail here, at startup
    app = create_app("wallet", [public, internal, refunds, jobs.router], title=TITLE)

    app.state.wallet = Lazy(
        lambda: WalletService(engine or service_engine("wallet", pool_size=10), settings)
    )

    async def on_wallet_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, WalletError)
        return problem_response(exc.status, exc.slug, exc.detail, errors=exc.errors)

    app.add_exception_handler(WalletError, on_wallet_error)
    return app
