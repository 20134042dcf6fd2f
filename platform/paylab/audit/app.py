"""The audit service: `uvicorn --factory paylab.audit.app:create --port 8006`."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from paylab.audit import consumers
from paylab.audit.routes import internal, public
from paylab.audit.service import AuditService
from paylab.audit.settings import AuditSettings, get_audit_settings
from paylab.core.app import create_app
from paylab.core.lazy import Lazy

TITLE = "Paylab audit"


def create(engine: Engine | None = None, settings: AuditSettings | None = None) -> FastAPI:
    """The audit app; `engine` defaults to one connected as `paylab_audit`."""
    settings = settings or get_audit_settings()  # invalid settings fail here, at startup
    app = create_app("audit", [public, internal], title=TITLE)
    if engine is None:
        # The same service as the queue consumer's, when both run in one process.
        app.state.audit = consumers.SERVICE
    else:
        app.state.audit = Lazy(lambda: AuditService(engine, settings))
    return app
