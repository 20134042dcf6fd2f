"""Choose the host Python interpreter that runs a function of a given Lambda runtime."""

import glob
import os
import re
from functools import cache
from pathlib import Path

FALLBACK_ENV = "PAYLAB_LAMBDA_PYTHON"

_RUNTIME_RE = re.compile(r"^python(3\.\d+)$")


class InterpreterNotFound(Exception):
    """No host interpreter can run the requested Lambda runtime."""


def _version_key(path: str) -> tuple[int, ...]:
    """Sort key so that 3.11.10 ranks above 3.11.9."""
    name = Path(path).parent.parent.name
    return tuple(int(part) for part in re.findall(r"\d+", name))


def _pyenv_candidates(version: str) -> list[str]:
    """Interpreters of pyenv installs matching 3.X.*, best (highest patch) first."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    # Shims (pyenv/shims/python3.X) are avoided on purpose: they need pyenv init and fail here.
    found = glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", "python"))
    found = [
        path
        for path in found
        if re.fullmatch(rf"{re.escape(version)}\.\d+", Path(path).parent.parent.name)
    ]
    return sorted(found, key=_version_key, reverse=True)


@cache
def find_python(runtime: str) -> str:
    """Return the interpreter path for a runtime like "python3.11", or raise InterpreterNotFound."""
    match = _RUNTIME_RE.match(runtime or "")
    if not match:
        raise InterpreterNotFound(
            f"Runtime {runtime!r} is not supported by the paylab_host Lambda executor "
            "(only python3.X zip functions run as host processes)."
        )
    for candidate in _pyenv_candidates(match.group(1)):
        if os.access(candidate, os.X_OK):
            return candidate
    fallback = os.environ.get(FALLBACK_ENV, "").strip()
    if fallback:
        if os.access(fallback, os.X_OK):
            return fallback
        raise InterpreterNotFound(f"{FALLBACK_ENV}={fallback} is not an executable file.")
    raise InterpreterNotFound(
        f"No Python for Lambda runtime {runtime}: install {match.group(1)} under "
        f"~/.pyenv/versions/{match.group(1)}.* or set {FALLBACK_ENV}=/path/to/python."
    )
