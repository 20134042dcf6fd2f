"""The CLI answers bad situations with one clear line and a non-zero exit, never a trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from paylab.cli import app
from paylab.core.settings import get_settings


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """A CLI whose state lives in a temporary root, on ports nothing listens on."""
    monkeypatch.setenv("PAYLAB_ROOT", str(tmp_path))
    monkeypatch.setenv("PAYLAB_LOCALSTACK_PORT", "1")
    monkeypatch.setenv("PAYLAB_POSTGRES_PORT", "2")
    monkeypatch.setenv("PAYLAB_REDIS_PORT", "3")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_logs_of_an_unknown_component(isolated: CliRunner) -> None:
    result = isolated.invoke(app, ["logs", "nope"])
    assert result.exit_code == 1
    assert "no component 'nope'" in result.output
    assert "Traceback" not in result.output


def test_logs_before_anything_ran(isolated: CliRunner) -> None:
    result = isolated.invoke(app, ["logs"])
    assert result.exit_code == 1
    assert "no logs yet" in result.output


def test_status_of_a_stopped_stack_is_unhealthy(isolated: CliRunner) -> None:
    result = isolated.invoke(app, ["status", "--json"])
    assert result.exit_code == 1
    assert '"healthy": false' in result.output


def test_down_with_nothing_running(isolated: CliRunner) -> None:
    result = isolated.invoke(app, ["down"])
    assert result.exit_code == 0
    assert "nothing was running" in result.output


def test_bad_setting_is_named(isolated: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYLAB_TARGET", "mars")
    get_settings.cache_clear()
    result = isolated.invoke(app, ["status"])
    assert result.exit_code != 0
    assert "invalid PAYLAB_TARGET" in result.output
    assert "Traceback" not in result.output
