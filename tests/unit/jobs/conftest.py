"""The jobs' Lambdas put CloudWatch gauges: here into a fake, never to AWS."""

from __future__ import annotations

import pytest
from jobs_fakes import FakeCloudWatch

from paylab.lambdas import _metrics


@pytest.fixture(autouse=True)
def cloudwatch(monkeypatch: pytest.MonkeyPatch) -> FakeCloudWatch:
    fake = FakeCloudWatch()
    monkeypatch.setattr(_metrics, "cloudwatch", lambda: fake)
    monkeypatch.setenv("PAYLAB_STACK_NAME", "paylab-test")
    return fake
