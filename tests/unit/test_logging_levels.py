"""Logging set-up: httpx's per-request INFO lines are off (structlog writes our own lines)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

NAMES = ("", "httpx", "httpcore")


@pytest.fixture
def restore_levels() -> Iterator[None]:
    before = {n: logging.getLogger(n).level for n in NAMES}
    yield None
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("restore_levels")
def test_httpx_request_lines_are_not_logged_but_warnings_are() -> None:
    from paylab.core.logging import configure_logging

    # As in a service: the root logger at INFO, httpx inheriting it until configured.
    logging.getLogger().setLevel(logging.INFO)
    for name in NAMES[1:]:
        logging.getLogger(name).setLevel(logging.NOTSET)
    assert logging.getLogger("httpx").isEnabledFor(logging.INFO)
    configure_logging("test")
    for name in NAMES[1:]:
        logger = logging.getLogger(name)
        assert not logger.isEnabledFor(logging.INFO)
        assert logger.isEnabledFor(logging.WARNING)
