"""Internal endpoints of the scheduled jobs: data cleanup (old sent messages and outcomes).

What is deleted and why is paylab.core.retention's table (docs/retention.md).
"""

from __future__ import annotations

from paylab.core.retention import cleanup_router

router = cleanup_router("notification")
