"""The notification service: `uvicorn --factory paylab.notification.app:create --port 8005`."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from paylab.core.app import create_app
from paylab.core.lazy import Lazy
from paylab.core.sns_push import sns_router
from paylab.notification import consumers, jobs
from paylab.notification.routes import public
from paylab.notification.service import build
from paylab.notification.settings import NotificationSettings, get_notification_settings

TITLE = "Paylab notification"


def create(engine: Engine | None = None, settings: NotificationSettings | None = None) -> FastAPI:
    """The notification app; `engine` defaults to one connected as `paylab_notification`."""
    default = engine is None and settings is None
    settings = settings or get_notification_settings()  # invalid settings fail here, at startup
    app = create_app("notification", [public, jobs.router], title=TITLE)
    # One service per process: the list and the SNS pushes share the consumers' instance.
    app.state.notifications = (
        consumers.service if default else Lazy(lambda: build(settings, engine))
    )
    # SNS topics push here (the router checks signatures and confirms subscriptions).
    app.include_router(sns_router(consumers.handle))
    return app
