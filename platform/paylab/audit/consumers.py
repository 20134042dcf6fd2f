"""Where events enter the audit log: the audit-ops queue's worker calls `handle`.

Audit takes no SNS push (a push to a service that is down is lost): every event it keeps comes
through its FIFO queue (docs/decisions.md, "Audit and merchant read their queues").
"""

from __future__ import annotations

import structlog

from paylab.audit.service import AuditService
from paylab.audit.settings import get_audit_settings
from paylab.core.db import service_engine
from paylab.core.events import Envelope
from paylab.core.lazy import Lazy

log = structlog.get_logger(__name__)


def _build() -> AuditService:
    settings = get_audit_settings()
    # No overflow: appends serialize on the chain head's row lock, so a connection beyond the
    # pool would only wait on that lock, and it was opened and closed per use: 0.8 connections
    # a payment under bench/saga.py at 8 clients (0.1 with none).
    engine = service_engine("audit", pool_size=settings.pool_size, max_overflow=0)
    return AuditService(engine, settings)


# One service per process: the app's routes and the queue's handler share the pool.
SERVICE: Lazy[AuditService] = Lazy(_build)


def handle(envelope: Envelope) -> None:
    """Store `envelope` once (a redelivery is a no-op); raises to be retried."""
    appended = SERVICE().record(envelope)
    log.info(
        "audit_recorded" if appended else "audit_duplicate",
        event_id=envelope.id,
        event_type=envelope.type,
        subject_id=envelope.subject_id,
    )
