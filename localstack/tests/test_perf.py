"""perf.py: the patches keep Step Functions results right; the switch selects patches."""

import io
import json
import os
import subprocess
import sys
import threading
import urllib.request
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from botocore.config import Config
from localstack.aws.connect import InternalClientFactory

from conftest import ROLE, FunctionFactory, LocalStack, client, wait_until
from paylab_localstack import perf
from paylab_localstack.pooled_http import PooledRequests

# Many distinct JSONPaths (InputPath, Parameters, ResultPath, OutputPath, array indexes), so a
# cache that mixed expressions up, or shared results between executions, would show.
PATHS_MACHINE = {
    "StartAt": "Pick",
    "States": {
        "Pick": {
            "Type": "Pass",
            "InputPath": "$.order",
            "Parameters": {"id.$": "$.id", "first.$": "$.items[0].sku", "all.$": "$.items[*].sku"},
            "ResultPath": "$.picked",
            "Next": "Shape",
        },
        "Shape": {
            "Type": "Pass",
            "Parameters": {"ref.$": "$.picked.id", "skus.$": "$.picked.all", "n.$": "$.n"},
            "OutputPath": "$",
            "End": True,
        },
    },
}

TASK_MACHINE_HANDLER = {
    "app.py": "def handler(event, context):\n    return {'n': event['n'] + 1}\n",
}


def _run(sfn: Any, machine_arn: str, document: dict[str, Any]) -> dict[str, Any]:
    """Start an execution and return its final description once it has stopped."""
    arn = sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps(document))[
        "executionArn"
    ]
    done: dict[str, Any] = {}

    def stopped() -> bool:
        done.update(sfn.describe_execution(executionArn=arn))
        return done["status"] != "RUNNING"

    assert wait_until(stopped, timeout=30)
    return done


def test_jsonpath_heavy_machine_gives_each_execution_its_own_result(
    localstack: LocalStack,
) -> None:
    sfn = client("stepfunctions")
    machine_arn = sfn.create_state_machine(
        name="t-paths", definition=json.dumps(PATHS_MACHINE), roleArn=ROLE
    )["stateMachineArn"]

    def one(n: int) -> tuple[int, dict[str, Any]]:
        order = {"id": f"o-{n}", "items": [{"sku": f"a{n}"}, {"sku": f"b{n}"}]}
        return n, _run(sfn, machine_arn, {"order": order, "n": n})

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, range(8)))

    for n, execution in results:
        assert execution["status"] == "SUCCEEDED", execution
        assert json.loads(execution["output"]) == {
            "ref": f"o-{n}",
            "skus": [f"a{n}", f"b{n}"],
            "n": n,
        }


def test_lambda_task_machine_runs_with_cached_clients(
    localstack: LocalStack, make_function: FunctionFactory
) -> None:
    name = make_function(TASK_MACHINE_HANDLER)
    function_arn = client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
        "OutputPath": "$.Payload",
    }
    definition = {
        "StartAt": "A",
        "States": {"A": {**task, "Next": "B"}, "B": {**task, "End": True}},
    }
    sfn = client("stepfunctions")
    machine_arn = sfn.create_state_machine(
        name="t-tasks", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]

    for n in (1, 10):  # the second execution reuses the first one's credentials and clients
        execution = _run(sfn, machine_arn, {"n": n})
        assert execution["status"] == "SUCCEEDED", execution
        assert json.loads(execution["output"]) == {"n": n + 2}


def test_equal_client_configs_share_one_client(monkeypatch: pytest.MonkeyPatch) -> None:
    from localstack.aws.connect import ClientFactory

    monkeypatch.setattr(ClientFactory, "_get_client", ClientFactory._get_client)
    perf.reuse_equal_client_configs()
    factory = InternalClientFactory(endpoint="http://127.0.0.1:9")

    first = factory.get_client("sqs", region_name="us-east-1", config=Config(read_timeout=7))
    second = factory.get_client("sqs", region_name="us-east-1", config=Config(read_timeout=7))
    other = factory.get_client("sqs", region_name="us-east-1", config=Config(read_timeout=8))

    assert first is second
    assert other is not first


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", [p.__name__ for p in perf.PATCHES]),
        ("0", []),
        ("cache_jsonpath_parsing", ["cache_jsonpath_parsing"]),
    ],
)
def test_switch_selects_patches(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv(perf.SWITCH, value)
    assert [p.__name__ for p in perf.selected(perf.PATCHES)] == expected


def test_switch_rejects_unknown_patch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(perf.SWITCH, "no_such_patch")
    with pytest.raises(ValueError, match="no_such_patch"):
        perf.selected(perf.PATCHES)


# Map, Choice, Catch and Fail: the component kinds with the most structure, run over and over
# by reused programs (sequentially and concurrently), each execution with its own data.
REUSED_MACHINE = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Odd?",
                "States": {
                    "Odd?": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.odd", "BooleanEquals": True, "Next": "Odd"}],
                        "Default": "Even",
                    },
                    "Odd": {"Type": "Pass", "Parameters": {"v.$": "$.v", "k": "odd"}, "End": True},
                    "Even": {
                        "Type": "Pass",
                        "Parameters": {"v.$": "$.v", "k": "even"},
                        "End": True,
                    },
                },
            },
            "ResultPath": "$.mapped",
            "Next": "Fail?",
        },
        "Fail?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Boom"}],
            "Default": "Done",
        },
        "Boom": {"Type": "Fail", "Error": "Told", "Cause": "asked to fail"},
        "Done": {"Type": "Pass", "OutputPath": "$.mapped", "End": True},
    },
}


def _items(n: int) -> list[dict[str, Any]]:
    return [{"v": f"{n}-{i}", "odd": i % 2 == 1} for i in range(3)]


def test_reused_programs_give_each_execution_its_own_result(localstack: LocalStack) -> None:
    sfn = client("stepfunctions")
    machine_arn = sfn.create_state_machine(
        name="t-reuse", definition=json.dumps(REUSED_MACHINE), roleArn=ROLE
    )["stateMachineArn"]

    def one(n: int) -> tuple[int, dict[str, Any]]:
        return n, _run(sfn, machine_arn, {"items": _items(n), "fail": n % 3 == 0})

    sequential = [one(n) for n in (1, 2, 3)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(one, range(4, 12)))

    for n, execution in sequential + concurrent:
        if n % 3 == 0:
            assert execution["status"] == "FAILED", execution
            assert execution.get("error") == "Told"
            continue
        assert execution["status"] == "SUCCEEDED", execution
        assert json.loads(execution["output"]) == [
            {"v": f"{n}-0", "k": "even"},
            {"v": f"{n}-1", "k": "odd"},
            {"v": f"{n}-2", "k": "even"},
        ]


def test_program_pool_lends_each_program_to_one_execution_at_a_time() -> None:
    pool = perf.ProgramPool(definitions=2, per_definition=1)
    assert pool.take("a") is None
    first, second = object(), object()
    pool.give_back("a", first)
    pool.give_back("a", second)  # over the per-definition bound: dropped
    assert pool.take("a") is first
    assert pool.take("a") is None  # lent out: never handed to a second execution
    pool.give_back("a", first)
    pool.give_back("b", object())
    pool.give_back("c", object())  # three definitions: the least recently used goes
    assert pool.take("a") is None
    assert pool.take("c") is not None


class _Recorder(BaseHTTPRequestHandler):
    """Answers every POST with 200 and records (client port, body); closes when told to."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[tuple[int, bytes]]] = []
    close_next: ClassVar[bool] = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).seen.append((self.client_address[1], body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        if type(self).close_next:
            type(self).close_next = False
            self.close_connection = True
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def recorder() -> Iterator[tuple[str, type[_Recorder]]]:
    _Recorder.seen, _Recorder.close_next = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sns", _Recorder
    finally:
        server.shutdown()
        server.server_close()


def test_pooled_posts_reuse_a_connection_and_survive_its_close(
    recorder: tuple[str, type[_Recorder]],
) -> None:
    import requests

    url, seen = recorder
    pooled = PooledRequests(requests)
    for n in range(3):
        assert pooled.post(url, data=f"m{n}".encode()).status_code == 200
    seen.close_next = True  # the subscriber drops the kept-alive connection after this one
    assert pooled.post(url, data=b"m3").status_code == 200
    assert pooled.post(url, data=b"m4").status_code == 200

    ports = [port for port, _ in seen.seen]
    assert [body for _, body in seen.seen] == [b"m0", b"m1", b"m2", b"m3", b"m4"]
    assert len(set(ports[:4])) == 1  # one kept-alive connection
    assert ports[4] != ports[3]  # a new one after the close
    assert pooled.codes is requests.codes  # everything else is the real module


def test_sns_delivers_to_http_and_sqs_subscribers(
    localstack: LocalStack, recorder: tuple[str, type[_Recorder]]
) -> None:
    url, seen = recorder
    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name="t-perf-fanout")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="t-perf-fanout")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=url)
    assert wait_until(lambda: len(seen.seen) == 1, timeout=10)  # the confirmation
    token = json.loads(seen.seen[0][1])["Token"]
    sns.confirm_subscription(TopicArn=topic, Token=token)

    for n in range(4):
        sns.publish(TopicArn=topic, Message=f"m{n}")

    assert wait_until(lambda: len(seen.seen) == 5, timeout=10)
    pushed = sorted(json.loads(body)["Message"] for _, body in seen.seen[1:])
    assert pushed == ["m0", "m1", "m2", "m3"]
    queued: list[str] = []

    def drained() -> bool:
        for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            queued.append(json.loads(m["Body"])["Message"])
        return len(queued) >= 4

    assert wait_until(drained, timeout=10)
    assert sorted(queued) == ["m0", "m1", "m2", "m3"]


def test_every_patch_is_applied_at_start(localstack: LocalStack) -> None:
    applied = localstack.log_path.read_text(errors="replace")
    line = next(x for x in applied.splitlines() if "paylab perf patches applied" in x)
    assert all(p.__name__ in line for p in perf.PATCHES), line


LAZY_BATCH_PROBE = """
import sys
from paylab_localstack import perf
perf.import_moto_batch_lazily()
from localstack.services.stepfunctions.asl.component.state.state_execution.state_task.service \\
    import state_task_service_batch
print(state_task_service_batch.JobStatus.SUCCEEDED.value)
print("moto.batch.models" in sys.modules, "moto.ec2.models" in sys.modules)
from moto.backends import get_backend
from moto.batch import batch_backends
print(get_backend("batch") is batch_backends, "moto.batch.models" in sys.modules)
"""


def test_step_functions_loads_without_moto_batch_models_until_asked() -> None:
    """The lazy `moto.batch` keeps Batch's models out of Step Functions' import, yet serves them."""
    here = str(Path(perf.__file__).parents[1])  # the same paylab_localstack as this test's
    env = {**os.environ, "PYTHONPATH": here}
    probe = [sys.executable, "-c", LAZY_BATCH_PROBE]
    out = subprocess.run(probe, capture_output=True, text=True, check=True, env=env).stdout
    assert out.split("\n")[:3] == ["SUCCEEDED", "False False", "True True"], out


def test_function_code_urls_stay_valid_with_one_signing_client(
    localstack: LocalStack, make_function: FunctionFactory
) -> None:
    """GetFunction's presigned code URLs, signed by the reused client, download the code."""
    name = make_function(TASK_MACHINE_HANDLER)
    lam = client("lambda")
    for _ in range(2):
        location = lam.get_function(FunctionName=name)["Code"]["Location"]
        with urllib.request.urlopen(location, timeout=10) as response:  # loopback
            archive = zipfile.ZipFile(io.BytesIO(response.read()))
        assert archive.read("app.py").decode() == TASK_MACHINE_HANDLER["app.py"]
