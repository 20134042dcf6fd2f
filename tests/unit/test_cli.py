"""The CLI answers bad situations with one clear line and a non-zero exit, never a trace."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paylab.cli import app
from paylab.core.settings import get_settings
from paylab.devstack.process import ProcessManager, ProcessSpec
from paylab.devstack.stack import SIMULATORS


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[CliRunner]:
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


def test_logs_of_a_simulator_show_the_shared_log(
    isolated: CliRunner, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    logs = tmp_path / ".paylab" / "logs"
    logs.mkdir(parents=True)
    (logs / "simulators.log").write_text("pse and bank say hello\n")
    (logs / "sim-pse.log").write_text("stale, from the days of one process each\n")
    result = isolated.invoke(app, ["logs", "sim-pse"])
    assert result.exit_code == 0
    assert capfd.readouterr().out == "pse and bank say hello\n"


def test_status_shows_each_simulator_with_the_shared_process(
    isolated: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "simulators").mkdir()
    (tmp_path / "simulators" / "__main__.py").write_text("")
    manager = ProcessManager(tmp_path / ".paylab")
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    proc = manager.start(ProcessSpec(name="simulators", argv=sleeper))
    try:
        result = isolated.invoke(app, ["status", "--json"])
    finally:
        manager.stop("simulators", timeout=5)
    components = json.loads(result.output)["components"]
    sims = {name: c for name, c in components.items() if name.startswith("sim-")}
    assert sorted(sims) == sorted(f"sim-{n}" for n in SIMULATORS)
    assert {(c["state"], c["pid"]) for c in sims.values()} == {("running", proc.pid)}
    assert {c["log"] for c in sims.values()} == {str(manager.log_file("simulators"))}
    assert sims["sim-bank"]["url"] == f"http://127.0.0.1:{SIMULATORS['bank']}"


def test_down_waits_for_a_running_up(isolated: CliRunner) -> None:
    """A second `up`/`down` waits for the first: concurrent stack updates corrupt the stack."""
    import threading

    from filelock import FileLock

    held = FileLock(get_settings().state_dir / "stack.lock")
    held.acquire()
    result: dict[str, object] = {}
    runner = threading.Thread(target=lambda: result.update(out=isolated.invoke(app, ["down"])))
    runner.start()
    runner.join(timeout=1.0)
    assert runner.is_alive()  # blocked on the lock, not finished
    held.release()
    runner.join(timeout=30)
    out = result["out"]
    assert getattr(out, "exit_code", None) == 0
    assert "another `paylab up` or `down` is running" in getattr(out, "output", "")
    assert "nothing was running" in getattr(out, "output", "")
