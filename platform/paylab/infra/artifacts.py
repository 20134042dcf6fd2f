"""Deployment artifacts: the template, the Lambda zip and the state machine definitions, in S3.

The same bytes deploy to LocalStack and AWS: the zip is reproducible (sorted entries, fixed
timestamps) and its S3 key carries its content hash, so an unchanged build uploads nothing
and a changed one makes CloudFormation update the functions.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from paylab.core.aws import client
from paylab.core.settings import Settings
from paylab.infra.deploy import TEMPLATE

PACKAGE = Path(__file__).resolve().parents[1]  # platform/paylab
WORKFLOWS = PACKAGE / "workflows"
COMPUTE_TEMPLATE = PACKAGE / "infra" / "compute.yaml"
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Artifacts:
    """Where the template finds its code and definitions (CloudFormation parameters)."""

    bucket: str
    lambda_code_key: str
    saga_definition_key: str
    # The template goes by URL: an inline TemplateBody is limited to 51,200 bytes, which ours
    # approaches; a template in S3 may have 1 MB.
    template_url: str = ""
    # The compute plane's nested template (AWS only; published on every target, unused locally).
    compute_template_key: str = ""

    def parameters(self) -> dict[str, str]:
        return {
            "ArtifactsBucket": self.bucket,
            "LambdaCodeKey": self.lambda_code_key,
            "PaymentSagaDefinitionKey": self.saga_definition_key,
            "ComputeTemplateKey": self.compute_template_key,
        }


# Pure-Python distributions the rotation Lambdas import (pg8000 and its dependency closure),
# copied from the installed ones: the same versions as .venv, the same bytes on every build.
VENDORED = ("pg8000", "scramp", "asn1crypto", "python-dateutil", "six")


def vendored_files(names: tuple[str, ...] = VENDORED) -> list[tuple[str, Path]]:
    """(archive name, file) for each vendored distribution's importable files, sorted."""
    found: dict[str, Path] = {}
    for name in names:
        dist = metadata.distribution(name)
        for entry in dist.files or ():
            parts = entry.parts
            if parts[0].endswith(".dist-info"):
                # Only METADATA: packages read their own version from it (scramp does).
                if parts[-1] != "METADATA":
                    continue
            elif "__pycache__" in parts or entry.suffix == ".pyc":
                continue
            found[entry.as_posix()] = Path(str(dist.locate_file(entry)))
    return sorted(found.items())


def lambda_zip() -> bytes:
    """`paylab/__init__.py`, `paylab/lambdas/` and the vendored drivers: all the Lambdas need."""
    files = [
        (str(Path("paylab") / path.relative_to(PACKAGE)), path)
        for path in [PACKAGE / "__init__.py", *sorted((PACKAGE / "lambdas").rglob("*.py"))]
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in [*files, *vendored_files()]:
            info = zipfile.ZipInfo(name, _EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _keyed(prefix: str, data: bytes, suffix: str) -> str:
    return f"{prefix}{hashlib.sha256(data).hexdigest()[:20]}{suffix}"


def bucket_name(settings: Settings, sts: Any = None) -> str:
    """One artifacts bucket per stack and account (bucket names are global on AWS)."""
    account = (sts or client("sts", settings)).get_caller_identity()["Account"]
    return f"{settings.stack_name}-artifacts-{account}".lower()


def publish(settings: Settings, s3: Any = None) -> Artifacts:
    """Build and upload what the template needs; returns its parameters."""
    s3 = s3 or client("s3", settings)
    bucket = bucket_name(settings)
    _ensure_bucket(s3, bucket, settings.region)
    code = lambda_zip()
    saga = (WORKFLOWS / "payment_saga.asl.json").read_bytes()
    compute = COMPUTE_TEMPLATE.read_bytes()
    artifacts = Artifacts(
        bucket=bucket,
        lambda_code_key=_keyed("lambdas/paylab-", code, ".zip"),
        saga_definition_key=_keyed("workflows/payment_saga-", saga, ".asl.json"),
        template_url=upload_template(settings, TEMPLATE.read_bytes(), s3, bucket),
        compute_template_key=_keyed("templates/compute-", compute, ".yaml"),
    )
    _put_once(s3, bucket, artifacts.lambda_code_key, code)
    _put_once(s3, bucket, artifacts.saga_definition_key, saga)
    _put_once(s3, bucket, artifacts.compute_template_key, compute)
    return artifacts


def upload_template(
    settings: Settings, template: bytes, s3: Any = None, bucket: str | None = None
) -> str:
    """Put a template in the artifacts bucket (content-addressed); its URL for TemplateURL."""
    s3 = s3 or client("s3", settings)
    bucket = bucket or bucket_name(settings)
    key = _keyed("templates/paylab-", template, ".yaml")
    _put_once(s3, bucket, key, template)
    return object_url(settings, bucket, key)


def object_url(settings: Settings, bucket: str, key: str) -> str:
    """The object's URL as CloudFormation fetches it: path style on LocalStack, else S3's."""
    endpoint = settings.endpoint_url()
    if endpoint is not None:
        return f"{endpoint.rstrip('/')}/{bucket}/{key}"
    return f"https://{bucket}.s3.{settings.region}.amazonaws.com/{key}"


def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError:
        pass
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise


def _put_once(s3: Any, bucket: str, key: str, data: bytes) -> None:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        s3.put_object(Bucket=bucket, Key=key, Body=data)
