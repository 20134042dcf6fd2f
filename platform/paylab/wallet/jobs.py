"""Internal endpoints of the scheduled jobs: data cleanup (published outbox rows only).

Ledger rows (postings, entries, holds, operations, refunds) are never cleaned: see
paylab.core.retention and docs/retention.md.
"""

from __future__ import annotations

from paylab.core.retention import cleanup_router

router = cleanup_router("wallet")
