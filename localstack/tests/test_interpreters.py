"""Interpreter choice for a Lambda runtime (no LocalStack needed)."""

import sys
from pathlib import Path

import pytest

from paylab_localstack.lambda_executor import interpreters
from paylab_localstack.lambda_executor.interpreters import InterpreterNotFound, find_python


@pytest.fixture(autouse=True)
def fake_pyenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.delenv(interpreters.FALLBACK_ENV, raising=False)
    find_python.cache_clear()
    yield tmp_path
    find_python.cache_clear()


def _install(root: Path, version: str) -> str:
    python = root / "versions" / version / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    return str(python)


def test_highest_matching_patch_wins(fake_pyenv: Path) -> None:
    _install(fake_pyenv, "3.11.2")
    best = _install(fake_pyenv, "3.11.10")
    _install(fake_pyenv, "3.12.1")

    assert find_python("python3.11") == best


def test_fallback_is_used_when_no_match(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(interpreters.FALLBACK_ENV, sys.executable)

    assert find_python("python3.12") == sys.executable


def test_clear_error_without_interpreter() -> None:
    with pytest.raises(InterpreterNotFound, match="PAYLAB_LAMBDA_PYTHON"):
        find_python("python3.12")


def test_non_python_runtime_is_rejected() -> None:
    with pytest.raises(InterpreterNotFound, match=r"only python3\.X"):
        find_python("nodejs20.x")
