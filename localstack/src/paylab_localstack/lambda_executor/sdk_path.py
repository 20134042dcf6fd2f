"""Build the directory that provides boto3 to functions, as the AWS Python runtime does.

Functions run under another interpreter (e.g. 3.11) than LocalStack (3.13), so LocalStack's whole
site-packages cannot go on their path: it holds cp313 binary wheels and ~100 packages AWS does not
ship, which would mask packaging mistakes. Instead we link only boto3 and its pure-Python
dependencies out of LocalStack's environment into one directory placed after the function's code.
"""

import importlib
import os
import threading
from pathlib import Path

SDK_PATH_ENV = "PAYLAB_LAMBDA_SDK_PATH"

# boto3's dependency closure; all pure Python, so they import on any 3.9+ interpreter.
_SDK_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")

_lock = threading.Lock()


def _module_location(name: str) -> Path:
    """The package directory (or single-file module) of an importable module."""
    module = importlib.import_module(name)
    origin = Path(module.__file__ or "")
    return origin.parent if origin.name == "__init__.py" else origin


def sdk_path(base_dir: Path) -> str:
    """Return the boto3 directory for PYTHONPATH ("" if PAYLAB_LAMBDA_SDK_PATH disables it)."""
    override = os.environ.get(SDK_PATH_ENV)
    if override is not None:
        return override
    target = base_dir / "paylab-lambda-sdk"
    with _lock:
        target.mkdir(parents=True, exist_ok=True)
        for name in _SDK_MODULES:
            source = _module_location(name)
            link = target / source.name
            if link.is_symlink() and link.resolve() == source.resolve():
                continue
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(source)
    return str(target)
