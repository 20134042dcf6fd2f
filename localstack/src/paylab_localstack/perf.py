"""LocalStack performance patches, applied before the infrastructure starts.

Each patch is one function, found with py-spy on LocalStack during the Step Functions benchmark
(bench/localstack.py); the README lists them with their measured effect. PAYLAB_LOCALSTACK_PERF=0
turns them all off, so the benchmark can compare against stock behaviour.
"""

import functools
import importlib.util
import logging
import os
import sys
import threading
import time
import types
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)

SWITCH = "PAYLAB_LOCALSTACK_PERF"
# Parsed JSONPath expressions kept per parser; a state machine uses a handful of distinct paths.
JSONPATH_CACHE_SIZE = 4096
# with_assumed_role asks STS for its default duration (1 h); reuse credentials for 55 minutes.
CREDENTIALS_REUSE_S = 3300.0
# Distinct (role, principal, region, endpoint, config) entries kept before the cache starts over.
ASSUMED_ROLE_CACHE_SIZE = 256
# How often CloudFormation polls a resource that is still in progress (stock: every second).
CFN_POLL_SECONDS = 0.05
# Parsed state machine programs: distinct definitions kept, and idle programs kept per definition.
PROGRAM_DEFINITIONS = 64
PROGRAMS_PER_DEFINITION = 32


def selected(patches: tuple[Callable[[], None], ...]) -> list[Callable[[], None]]:
    """The patches PAYLAB_LOCALSTACK_PERF selects: all (default, 1), none (0) or a list of names."""
    value = os.environ.get(SWITCH, "1").strip().lower()
    if value in ("", "1", "true", "yes", "on"):
        return list(patches)
    if value in ("0", "false", "no", "off"):
        return []
    names = {name.strip() for name in value.split(",")}
    unknown = names - {p.__name__ for p in patches}
    if unknown:
        raise ValueError(f"{SWITCH}: unknown patches {sorted(unknown)}")
    return [p for p in patches if p.__name__ in names]


def cache_jsonpath_parsing() -> None:
    """Parse each Step Functions JSONPath once instead of on every evaluation.

    jsonpath-ng's `parse` builds a new ply LALR parser (tables included) on every call: it was
    about 45% of LocalStack's CPU per execution of a 4-Lambda-task state machine. The parsed
    expressions are immutable trees (attributes are only set in `__init__`; `find` and
    `update_or_create` change the data, not the expression), so sharing them between executions
    and threads is safe.
    """
    from localstack.services.stepfunctions.asl.component.common.path import result_path
    from localstack.services.stepfunctions.asl.utils import json_path

    for module in (json_path, result_path):
        module.parse = functools.lru_cache(maxsize=JSONPATH_CACHE_SIZE)(module.parse)


def _config_key(config: Any) -> str:
    """A key equal for botocore Configs with equal options (Config has no value equality)."""
    return repr(sorted(config._user_provided_options.items()))


def reuse_equal_client_configs() -> None:
    """Let LocalStack's client cache hit when callers pass equal but new botocore Configs.

    `ClientFactory._get_client` is an lru_cache keyed on its arguments, but
    `InternalClientFactory.get_client` merges the caller's Config into a new object on every call,
    so a Config argument never hits (Config compares by identity): Step Functions built two boto3
    clients (STS and Lambda) per Lambda task. Equal options map to one canonical Config here.
    """
    from localstack.aws.connect import ClientFactory

    canonical: dict[str, Any] = {}
    lock = threading.Lock()
    # An lru_cache-wrapped method, which localstack.utils.patch cannot locate: wrap it by hand.
    cached_get_client = ClientFactory._get_client

    def _get_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        config = kwargs.get("config")
        if config is not None:
            with lock:
                kwargs["config"] = canonical.setdefault(_config_key(config), config)
        return cached_get_client(self, *args, **kwargs)

    ClientFactory._get_client = _get_client


def reuse_assumed_role_credentials() -> None:
    """Assume a role once and reuse its credentials until shortly before they expire.

    `connect_to.with_assumed_role` calls STS AssumeRole (a request through the gateway) on every
    use: for each Lambda task of a state machine, each SNS delivery, each EventBridge target. The
    credentials it gets are valid for an hour; they are cached per role, principal, region,
    endpoint and client options, and only when the caller does not ask for a session name.
    """
    from localstack.aws.connect import ClientFactory
    from localstack.utils.patch import patch

    cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
    lock = threading.Lock()

    @patch(ClientFactory.with_assumed_role)
    def with_assumed_role(fn: Callable[..., Any], self: Any, **kwargs: Any) -> Any:
        if kwargs.get("session_name"):
            return fn(self, **kwargs)
        config = kwargs.get("config")
        key = (
            id(self),
            kwargs.get("role_arn"),
            kwargs.get("service_principal"),
            kwargs.get("region_name"),
            kwargs.get("endpoint_url"),
            None if config is None else _config_key(config),
        )
        now = time.monotonic()
        with lock:
            hit = cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        factory = fn(self, **kwargs)
        with lock:
            if len(cache) >= ASSUMED_ROLE_CACHE_SIZE:
                cache.clear()
            cache[key] = (now + CREDENTIALS_REUSE_S, factory)
        return factory


def skip_lambda_invocation_metrics() -> None:
    """Do not publish the CloudWatch `AWS/Lambda` Invocations/Errors metrics of each invoke.

    Every invoke starts a thread that sends PutMetricData through the gateway, which costs
    LocalStack a full request's CPU. Nothing in Paylab reads Lambda's CloudWatch metrics.
    """
    from localstack.services.lambda_.invocation import version_manager

    def no_metric(function_name: str, account_id: str, region_name: str) -> None:
        """Drop the metric (see skip_lambda_invocation_metrics)."""

    version_manager.record_cw_metric_invocation = no_metric
    version_manager.record_cw_metric_error = no_metric


class ProgramPool:
    """Idle parsed programs per state machine definition; one execution uses a program at a time.

    A program is a tree of evaluation components that keep no per-execution state (that lives
    in the execution's Environment and its heap, keyed by each component's stable heap key),
    but the heap key is created lazily without a lock, so a program is never shared by two
    running executions: each takes one from the pool, or parses a new one, and gives it back
    when it stops.
    """

    def __init__(
        self, definitions: int = PROGRAM_DEFINITIONS, per_definition: int = PROGRAMS_PER_DEFINITION
    ) -> None:
        self._idle: OrderedDict[str, list[Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._definitions, self._per_definition = definitions, per_definition

    def take(self, definition: str) -> Any | None:
        """An idle program parsed from `definition`, or None."""
        with self._lock:
            idle = self._idle.get(definition)
            if not idle:
                return None
            self._idle.move_to_end(definition)
            return idle.pop()

    def give_back(self, definition: str, program: Any) -> None:
        """Keep `program` for the next execution of `definition` (bounded)."""
        with self._lock:
            idle = self._idle.setdefault(definition, [])
            self._idle.move_to_end(definition)
            if len(idle) < self._per_definition:
                idle.append(program)
            while len(self._idle) > self._definitions:
                self._idle.popitem(last=False)


def reuse_parsed_state_machines() -> None:
    """Parse a state machine's definition once per concurrent execution, not once per execution.

    Every execution ran the ANTLR parser and the preprocessor over the whole definition (about
    5% of LocalStack's CPU per execution of the payment SAGA); parsed programs now go back to a
    pool (ProgramPool) when their execution stops.
    """
    from localstack.services.stepfunctions.backend.execution_worker import ExecutionWorker

    pool = ProgramPool()
    parse = ExecutionWorker._get_evaluation_entrypoint
    run = ExecutionWorker._execution_logic

    def entrypoint(self: Any) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        program = pool.take(definition)
        if program is None:
            program = parse(self)
        self._paylab_program = (definition, program)
        return program

    def execution_logic(self: Any) -> None:
        try:
            run(self)
        finally:
            held = self.__dict__.pop("_paylab_program", None)
            if held is not None:
                pool.give_back(*held)

    ExecutionWorker._get_evaluation_entrypoint = entrypoint
    ExecutionWorker._execution_logic = execution_logic


def poll_cloudformation_resources_faster() -> None:
    """Poll an in-progress stack resource every 50 ms instead of every second.

    A Lambda function is Pending for a moment after CreateFunction; once the executor's five
    no-wait polls have passed, stock CloudFormation sleeps a whole second before it looks
    again, and resources are created one after the other: four of the stack's functions took
    1.1-1.2 s each where the rest took 0.1-0.2 s. The time limit per resource is unchanged.
    """
    from localstack.services.cloudformation.resource_provider import ResourceProviderExecutor

    deploy_loop = ResourceProviderExecutor.deploy_loop

    def faster(self: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("sleep_time", CFN_POLL_SECONDS)
        return deploy_loop(self, *args, **kwargs)

    ResourceProviderExecutor.deploy_loop = faster


def call_internal_clients_in_memory() -> None:
    """Let LocalStack's own clients call its gateway in-process instead of over loopback HTTP.

    Step Functions invokes each Lambda task, the Lambda log handler stores each invocation's
    logs (PutLogEvents), SNS and EventBridge deliver to SQS, all through botocore clients that
    went out to port 4566 and back in: socket I/O, HTTP parsing on the reactor thread and a WSGI
    thread hop per call, about a fifth of LocalStack's CPU per payment. LocalStack's own
    IN_MEMORY_CLIENT setting hands the request to the gateway's handler chain directly (the
    same handlers run: routing, parsing, the provider, response logging). It is read when a
    client is built, so turning it on before the services start covers every internal client.
    """
    from localstack import config
    from localstack.aws.client import botocore_in_memory_endpoint_patch

    if not config.IN_MEMORY_CLIENT:  # LocalStack applies the patch itself when the env set it
        config.IN_MEMORY_CLIENT = True
        botocore_in_memory_endpoint_patch.apply()


def keep_sns_http_connections_alive() -> None:
    """Deliver SNS HTTP notifications over kept-alive connections.

    `HttpTopicPublisher` called `requests.post`, which builds a Session and opens a new TCP
    connection for every delivery (the merge of session settings alone was ~5% of LocalStack's
    CPU per payment, and each subscriber accepted a new connection every time).
    """
    from localstack.services.sns import publisher

    from paylab_localstack.pooled_http import PooledRequests

    if not isinstance(publisher.requests, PooledRequests):
        publisher.requests = PooledRequests(publisher.requests)


def _load_batch_backends(name: str) -> Any:
    if name != "batch_backends":
        raise AttributeError(f"module 'moto.batch' has no attribute {name!r}")
    from moto.batch.models import batch_backends

    return batch_backends


def import_moto_batch_lazily() -> None:
    """Keep Step Functions from loading moto's Batch, EC2 and ECS models that nothing here uses.

    Step Functions' Batch integration imports `moto.batch.utils.JobStatus`, and importing any
    submodule runs `moto/batch/__init__.py`, whose one line imports `moto.batch.models` and
    through it moto's EC2, ECS and IAM models: about 0.6 CPU-s on the critical path of `up`
    (the stack's state machines load Step Functions), measured in LocalStack's interpreter.
    The package is registered here with its real path and spec but without running its
    `__init__`; its one name, `batch_backends`, is imported on first use (moto's backend
    lookup and `from moto.batch import batch_backends` still work).
    """
    if "moto.batch" in sys.modules:
        return
    spec = importlib.util.find_spec("moto.batch")
    if spec is None or not spec.submodule_search_locations:
        return
    package = types.ModuleType("moto.batch")
    package.__spec__ = spec
    package.__path__ = list(spec.submodule_search_locations)
    package.__file__ = spec.origin
    package.__package__ = "moto.batch"
    package.__getattr__ = _load_batch_backends  # type: ignore[method-assign]
    sys.modules["moto.batch"] = package


def reuse_presigned_url_client() -> None:
    """Sign Lambda code URLs with one S3 client per endpoint instead of a new client per call.

    `GetFunction` returns the code's presigned URL, and `S3Code.generate_presigned_url` built a
    boto3 S3 client for each one (~40 ms of CPU). CloudFormation reads each function back while
    it waits for it to become Active, so deploying the stack built a client per poll: 0.76 of
    LocalStack's 6.7 CPU-s during a warm `up` (py-spy). boto3 clients are thread-safe; the
    signature still comes from the same client settings (internal account, us-east-1).
    """
    from localstack.services.lambda_.invocation import lambda_models

    original = lambda_models.S3Code.generate_presigned_url
    if getattr(original, "_paylab", False):
        return

    @functools.lru_cache(maxsize=8)
    def s3_client(endpoint_url: str) -> Any:
        return lambda_models.boto3.client(
            "s3",
            region_name=lambda_models.AWS_REGION_US_EAST_1,
            aws_access_key_id=lambda_models.config.INTERNAL_RESOURCE_ACCOUNT,
            aws_secret_access_key=lambda_models.INTERNAL_AWS_SECRET_ACCESS_KEY,
            endpoint_url=endpoint_url,
        )

    def generate_presigned_url(self: Any, endpoint_url: str) -> str:
        params = {"Bucket": self.s3_bucket, "Key": self.s3_key}
        if self.s3_object_version:
            params["VersionId"] = self.s3_object_version
        return str(s3_client(endpoint_url).generate_presigned_url("get_object", Params=params))

    generate_presigned_url._paylab = True  # type: ignore[attr-defined]
    lambda_models.S3Code.generate_presigned_url = generate_presigned_url


PATCHES: tuple[Callable[[], None], ...] = (
    import_moto_batch_lazily,
    cache_jsonpath_parsing,
    reuse_equal_client_configs,
    reuse_assumed_role_credentials,
    skip_lambda_invocation_metrics,
    reuse_parsed_state_machines,
    poll_cloudformation_resources_faster,
    call_internal_clients_in_memory,
    keep_sns_http_connections_alive,
    reuse_presigned_url_client,
)


@hooks.on_infra_start()
def paylab_perf_patches() -> None:
    """Apply the performance patches that PAYLAB_LOCALSTACK_PERF selects (default: all)."""
    chosen = selected(PATCHES)
    for apply in chosen:
        apply()
    LOG.info("paylab perf patches applied: %s", ", ".join(p.__name__ for p in chosen) or "none")
