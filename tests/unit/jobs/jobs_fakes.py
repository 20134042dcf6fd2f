"""Fakes for the jobs' Lambdas (tests/unit/jobs is on sys.path, not a package)."""

from __future__ import annotations

from typing import Any


class FakeCloudWatch:
    def __init__(self) -> None:
        self.put: list[dict[str, Any]] = []
        self.error: Exception | None = None  # raised by every call when set

    def put_metric_data(self, **kwargs: Any) -> None:
        if self.error is not None:
            raise self.error
        self.put.append(kwargs)

    def gauges(self) -> dict[str, float]:
        """Every gauge put, by name (the last value of each)."""
        return {d["MetricName"]: d["Value"] for p in self.put for d in p["MetricData"]}
