"""The LocalStack runner finds Python 3.13 or says clearly that it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from paylab.devstack.errors import StackError
from paylab.devstack.localstack import HostLocalStack, find_python313
from paylab.devstack.process import ProcessManager


def test_missing_python_313_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PAYLAB_PYTHON313", str(tmp_path / "no-such-python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    with pytest.raises(StackError, match=r"Python 3\.13 not found .*PAYLAB_PYTHON313"):
        find_python313()


def test_an_interpreter_of_another_version_is_not_taken(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Stands in for a Python 3.12: it answers the version probe with "False".
    other = tmp_path / "python3.12"
    other.write_text("#!/bin/sh\necho False\n")
    other.chmod(0o755)
    monkeypatch.setenv("PAYLAB_PYTHON313", str(other))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    with pytest.raises(StackError, match=r"Python 3\.13 not found"):
        find_python313()


def test_environment_keeps_localstack_on_loopback_and_offline(tmp_path: Path) -> None:
    env = HostLocalStack(tmp_path, tmp_path, 4599, ProcessManager(tmp_path)).environment()
    assert env["GATEWAY_LISTEN"] == "127.0.0.1:4599"
    assert env["OVERRIDE_IN_DOCKER"] == "0"
    assert env["DNS_ADDRESS"] == "0"
    for key in ("API_ENDPOINT", "ANALYTICS_API"):
        assert env[key].startswith("http://127.0.0.1:")
    assert env["DISABLE_EVENTS"] == env["SKIP_SSL_CERT_DOWNLOAD"] == "1"
    assert env["LAMBDA_RUNTIME_EXECUTOR"] == "paylab_host"
    assert env["PROVIDER_OVERRIDE_DYNAMODB"] == "paylab_moto"


def test_a_missing_environment_is_reported_not_started(tmp_path: Path) -> None:
    runner = HostLocalStack(tmp_path, tmp_path, 4599, ProcessManager(tmp_path))
    with pytest.raises(StackError, match="LocalStack environment is missing"):
        runner.start()
