"""What a function's runtime process sees: its environment variables and import path."""

import os
from pathlib import Path
from typing import Any

from localstack.services.lambda_.invocation.lambda_models import ArchiveCode, FunctionVersion
from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException

from .interpreters import find_python
from .sdk_path import sdk_path

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")


def code_archive(code: ArchiveCode | None) -> ArchiveCode:
    """The code archive of a zip function or layer (image functions have none)."""
    if code is None:
        raise LambdaRuntimeException("The paylab_host executor runs zip package functions only.")
    return code


def runtime_env(
    function_version: FunctionVersion,
    env_vars: dict[str, Any],
    workdir: Path,
    log_path: Path,
    shared_dir: Path,
) -> dict[str, str]:
    """LocalStack's Lambda variables, adjusted for a host process instead of a container."""
    config_ = function_version.config
    runtime = str(config_.runtime)
    version = runtime.removeprefix("python")
    layer_paths: list[str] = []
    for layer in config_.layers:
        root = code_archive(layer.code).get_unzipped_code_location()
        # AWS extracts layers to /opt; /opt/python[/lib/pythonX.Y/site-packages] are importable.
        layer_paths += [f"{root}/python/lib/python{version}/site-packages", f"{root}/python"]
    tmp_dir = workdir / "tmp"
    tmp_dir.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "en_US.UTF-8"}
    env.update({key: str(value) for key, value in env_vars.items() if value is not None})
    env.update(
        {
            "LAMBDA_TASK_ROOT": str(code_archive(config_.code).get_unzipped_code_location()),
            "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
            # After the code (sys.path[0]): layers, then boto3 as the AWS runtime provides it.
            "PYTHONPATH": os.pathsep.join(p for p in [*layer_paths, sdk_path(shared_dir)] if p),
            "TMPDIR": str(tmp_dir),
            "PAYLAB_LAMBDA_LOG_FILE": str(log_path),
            "PAYLAB_LAMBDA_INTERPRETER": find_python(runtime),
            "PAYLAB_PARENT_PID": str(os.getpid()),
        }
    )
    return env
