"""`paylab deploy`'s order: no service runs on a database that is not bootstrapped/migrated."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from botocore.exceptions import ClientError

from paylab.core.settings import Settings, Target
from paylab.infra.artifacts import Artifacts
from paylab.infra.aws_deploy import AwsDeployer, Release
from paylab.infra.deploy import DeploymentError

OUTPUTS = {
    "ClusterName": "paylab",
    "DbBootstrapTaskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/paylab-db-bootstrap:1",
    "PrivateSubnetIds": "subnet-a,subnet-b",
    "ServicesSecurityGroupId": "sg-1",
    "ApiUrl": "https://abc.execute-api.us-east-1.amazonaws.com",
}
RELEASE = Release(
    image="1.dkr.ecr.us-east-1.amazonaws.com/paylab:new",
    pse_url="https://pse.example",
    bank_url="https://bank.example",
    antifraud_url="https://antifraud.example",
    sms_url="https://sms.example",
    sender_email="pagos@example.co",
    checkout_return_url="https://shop.example/return",
    desired_count=3,
)
ARTIFACTS = Artifacts("bucket", "lambdas/x.zip", "workflows/y.json", "https://t", "templates/c")


class FakeCfn:
    def __init__(
        self,
        outputs: dict[str, str] | None,
        status: str = "UPDATE_COMPLETE",
        floor: str = "3",
        sender: tuple[str, str | None] = (RELEASE.sender_email, "true"),
    ) -> None:
        self.outputs = outputs
        self.status = status
        self.floor = floor
        self.sender = sender
        self.more_parameters: dict[str, str] = {}

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        if self.outputs is None:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ValidationError",
                        "Message": f"Stack {StackName} does not exist",
                    }
                },
                "DescribeStacks",
            )
        outputs = [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()]
        parameters = [
            {"ParameterKey": "PlatformImage", "ParameterValue": "paylab:running"},
            {"ParameterKey": "ServiceDesiredCount", "ParameterValue": self.floor},
            {"ParameterKey": "SenderEmail", "ParameterValue": self.sender[0]},
        ]
        if self.sender[1] is not None:  # None: a stack deployed before the parameter existed
            parameters.append(
                {"ParameterKey": "CreateSenderIdentity", "ParameterValue": self.sender[1]}
            )
        parameters += [
            {"ParameterKey": k, "ParameterValue": v} for k, v in self.more_parameters.items()
        ]
        return {
            "Stacks": [{"StackStatus": self.status, "Outputs": outputs, "Parameters": parameters}]
        }

    def describe_stack_events(self, StackName: str) -> dict[str, Any]:
        return {"StackEvents": []}


class FakeWaiter:
    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.log = log

    def wait(self, **kwargs: Any) -> None:
        self.log.append(("wait", kwargs["tasks"]))


class FakeEcs:
    def __init__(self, log: list[tuple[str, Any]], exit_code: int | None = 0) -> None:
        self.log = log
        self.exit_code = exit_code

    def run_task(self, **kwargs: Any) -> dict[str, Any]:
        self.log.append(("run_task", kwargs))
        return {"tasks": [{"taskArn": "arn:task/1"}], "failures": []}

    def get_waiter(self, name: str) -> FakeWaiter:
        assert name == "tasks_stopped"
        return FakeWaiter(self.log)

    def describe_tasks(self, **kwargs: Any) -> dict[str, Any]:
        container = {} if self.exit_code is None else {"exitCode": self.exit_code}
        return {
            "tasks": [{"containers": [container], "stoppedReason": "Essential container exited"}]
        }

    def describe_task_definition(self, taskDefinition: str) -> dict[str, Any]:
        return {
            "taskDefinition": {
                "taskDefinitionArn": taskDefinition,
                "family": "paylab-db-bootstrap",
                "revision": 1,
                "status": "ACTIVE",
                "containerDefinitions": [{"name": "db-bootstrap", "image": "old"}],
                "cpu": "512",
                "memory": "1024",
            }
        }

    def deregister_task_definition(self, taskDefinition: str) -> None:
        self.log.append(("deregister", taskDefinition))

    def register_task_definition(self, **kwargs: Any) -> dict[str, Any]:
        self.log.append(("register", kwargs))
        return {
            "taskDefinition": {"taskDefinitionArn": "arn:task-definition/paylab-db-bootstrap:2"}
        }


class FakeSes:
    """SES v2 holding `identities` (addresses or domains)."""

    def __init__(self, identities: set[str], error: str = "NotFoundException") -> None:
        self.identities = identities
        self.error = error

    def get_email_identity(self, EmailIdentity: str) -> dict[str, Any]:
        if EmailIdentity in self.identities:
            return {"VerifiedForSendingStatus": True}
        if f"{EmailIdentity} (pending)" in self.identities:
            return {"VerifiedForSendingStatus": False}
        error = {"Error": {"Code": self.error, "Message": f"{EmailIdentity} ..."}}
        raise ClientError(error, "GetEmailIdentity")  # type: ignore[arg-type]


def _deployer(
    existing: dict[str, str] | None,
    log: list[tuple[str, Any]],
    exit_code: int | None = 0,
    status: str = "UPDATE_COMPLETE",
    deployed: dict[str, str] = OUTPUTS,
    floor: str = "3",
    ses: FakeSes | None = None,
    sender: tuple[str, str | None] = (RELEASE.sender_email, "true"),
) -> AwsDeployer:
    def deploy_stack(settings: Settings, progress: Any, **kwargs: Any) -> dict[str, str]:
        log.append(("deploy", kwargs["parameters"]))
        assert kwargs["template_url"] == "https://t"
        return deployed

    return AwsDeployer(
        Settings(target=Target.AWS),
        cfn=FakeCfn(existing, status, floor, sender),
        ecs=FakeEcs(log, exit_code),
        ses=ses or FakeSes(set()),
        publish_artifacts=lambda _settings: log.append(("publish", None)) or ARTIFACTS,
        deploy_stack=deploy_stack,
        resend_confirmations=lambda _settings, **_: log.append(("resend", None)) or [],
    )


def _steps(log: list[tuple[str, Any]]) -> list[str]:
    steps = []
    for step, arg in log:
        if step == "deploy":
            image = arg["PlatformImage"].rsplit(":", 1)[-1]
            counts = {"true": "set", "false": "keep"}[arg["ServiceSetCounts"]]
            steps.append(f"deploy({arg['ServiceDesiredCount']}, {image}, {counts})")
        elif step in ("publish", "run_task", "register", "deregister", "resend"):
            steps.append(step)
    return steps


# A stack created, its database bootstrapped, then its services started.
FIRST_TIME = ["publish", "deploy(0, new, set)", "run_task", "deploy(3, new, set)", "resend"]


def test_a_first_deployment_bootstraps_the_database_before_any_task_runs() -> None:
    log: list[tuple[str, Any]] = []
    outputs = _deployer(None, log).run(RELEASE)
    assert _steps(log) == FIRST_TIME
    assert outputs["ApiUrl"] == OUTPUTS["ApiUrl"]
    deployed = next(arg for step, arg in log if step == "deploy")
    assert deployed["PlatformImage"] == RELEASE.image
    assert (deployed["ServiceDesiredCount"], deployed["ServiceMaxCount"]) == ("0", "6")
    assert deployed["NatGateways"] == "2"
    # A failed first creation must be able to delete the cluster; protected once it runs.
    protection = [arg["ProtectData"] for step, arg in log if step == "deploy"]
    assert protection == ["false", "true"]
    assert deployed["ComputeTemplateKey"] == "templates/c"
    (run,) = [arg for step, arg in log if step == "run_task"]
    assert run["taskDefinition"] == OUTPUTS["DbBootstrapTaskDefinitionArn"]
    network = run["networkConfiguration"]["awsvpcConfiguration"]
    assert network["subnets"] == ["subnet-a", "subnet-b"]
    assert network["securityGroups"] == ["sg-1"]


def test_an_update_migrates_with_the_new_image_before_the_services_roll_over() -> None:
    """What the release adds exists first (the running image), then the new image migrates,
    then the services roll over: a new service's database secret is there for the bootstrap."""
    log: list[tuple[str, Any]] = []
    with_new_service = {**OUTPUTS, "LedgerDbSecretArn": "arn:secret:ledger"}
    _deployer(OUTPUTS, log, deployed=with_new_service).run(RELEASE)
    assert _steps(log) == [
        "publish",
        "deploy(3, running, keep)",
        "register",
        "run_task",
        "deregister",
        "deploy(3, new, keep)",
        "resend",
    ]
    assert ("deregister", "arn:task-definition/paylab-db-bootstrap:2") in log
    assert {arg["ProtectData"] for step, arg in log if step == "deploy"} == {"true"}
    (registered,) = [arg for step, arg in log if step == "register"]
    assert registered["containerDefinitions"] == [{"name": "db-bootstrap", "image": RELEASE.image}]
    assert "revision" not in registered and "status" not in registered
    (run,) = [arg for step, arg in log if step == "run_task"]
    assert run["taskDefinition"].endswith(":2")


@pytest.mark.parametrize(
    ("floor", "steps"),
    [
        # A new floor moves the scalable targets' minimum, which brings each count into
        # range: naming DesiredCount would set a service that scaled out back to it.
        ("2", ["deploy(3, running, keep)", "run_task", "deploy(3, new, keep)"]),
        # Services never started (a first deployment stopped at its bootstrap): they stay at
        # 0 until the bootstrap has run, then get their counts.
        ("0", ["deploy(0, running, set)", "run_task", "deploy(3, new, set)"]),
    ],
)
def test_an_update_sets_the_task_counts_only_of_services_never_started(
    floor: str, steps: list[str]
) -> None:
    log: list[tuple[str, Any]] = []
    _deployer(OUTPUTS, log, floor=floor).run(RELEASE)
    assert [s for s in _steps(log) if s.startswith("deploy") or s == "run_task"] == steps


def _identity(log: list[tuple[str, Any]]) -> set[str]:
    return {arg["CreateSenderIdentity"] for step, arg in log if step == "deploy"}


@pytest.mark.parametrize(
    ("identities", "created"),
    [
        (set(), "true"),
        ({"pagos@example.co"}, "false"),
        ({"example.co"}, "false"),
        ({"example.co (pending)"}, "true"),  # a domain not verified yet sends nothing
    ],
)
def test_a_first_deployment_creates_the_sender_identity_unless_ses_has_one(
    identities: set[str], created: str
) -> None:
    """An account holds an identity once: creating one verified outside the stack fails."""
    log: list[tuple[str, Any]] = []
    _deployer(None, log, ses=FakeSes(identities)).run(RELEASE)
    assert _identity(log) == {created}


@pytest.mark.parametrize(
    ("running", "identities", "created"),
    [
        # The identity the stack created is in SES now: asking again would delete it.
        (("pagos@example.co", "true"), {"pagos@example.co"}, "true"),
        # A stack deployed before the parameter existed created its identity.
        (("pagos@example.co", None), {"pagos@example.co"}, "true"),
        # A new sender under a verified domain: the stack's old identity goes.
        (("old@example.co", "true"), {"example.co"}, "false"),
        # The outside identity it relied on is still there, or has gone.
        (("pagos@example.co", "false"), {"pagos@example.co"}, "false"),
        (("pagos@example.co", "false"), set(), "true"),
    ],
)
def test_an_update_keeps_an_owned_identity_and_asks_ses_otherwise(
    running: tuple[str, str | None], identities: set[str], created: str
) -> None:
    log: list[tuple[str, Any]] = []
    _deployer(OUTPUTS, log, ses=FakeSes(identities), sender=running).run(RELEASE)
    assert _identity(log) == {created}


def test_an_ses_error_other_than_not_found_stops_the_deployment_before_any_change() -> None:
    log: list[tuple[str, Any]] = []
    with pytest.raises(ClientError, match="AccessDenied"):
        _deployer(None, log, ses=FakeSes(set(), error="AccessDeniedException")).run(RELEASE)
    assert _steps(log) == []


@pytest.mark.parametrize("exit_code", [1, None])
def test_a_failed_bootstrap_stops_the_deployment_before_the_services_start(
    exit_code: int | None,
) -> None:
    log: list[tuple[str, Any]] = []
    with pytest.raises(DeploymentError, match="bootstrap task arn:task/1 failed") as failure:
        _deployer(None, log, exit_code).run(RELEASE)
    assert _steps(log) == ["publish", "deploy(0, new, set)", "run_task"]
    assert "/paylab/paylab" in str(failure.value)


@pytest.mark.parametrize(
    ("status", "remedy"),
    [
        ("UPDATE_IN_PROGRESS", "another deployment is changing it"),
        ("UPDATE_ROLLBACK_FAILED", "continue-update-rollback"),
        ("ROLLBACK_FAILED", "deletion protection"),
    ],
)
def test_a_stack_being_changed_or_stuck_is_refused_before_anything_runs(
    status: str, remedy: str
) -> None:
    log: list[tuple[str, Any]] = []
    with pytest.raises(DeploymentError, match=remedy):
        _deployer(OUTPUTS, log, status=status).run(RELEASE)
    assert log == []


def test_a_stack_whose_creation_rolled_back_is_deployed_as_a_first_time() -> None:
    """deploy() deletes a ROLLBACK_COMPLETE stack and creates it again: no cluster to migrate."""
    log: list[tuple[str, Any]] = []
    _deployer(OUTPUTS, log, status="ROLLBACK_COMPLETE").run(RELEASE)
    assert _steps(log) == FIRST_TIME


def test_a_stack_without_its_compute_plane_is_deployed_as_a_first_time() -> None:
    """A stack deployed before the compute plane existed: no cluster to run the task in yet."""
    log: list[tuple[str, Any]] = []
    _deployer({"EventBusName": "paylab"}, log).run(RELEASE)
    assert _steps(log) == FIRST_TIME


def test_sns_is_asked_again_for_each_pending_https_confirmation_only() -> None:
    from paylab.infra.deploy import resend_pending_confirmations

    class Stack:
        def get_paginator(self, operation: str) -> Stack:
            assert operation == "list_stack_resources"
            return self

        def paginate(self, StackName: str) -> list[dict[str, Any]]:
            topic = {"ResourceType": "AWS::SNS::Topic", "PhysicalResourceId": "arn:topic:payments"}
            queue = {"ResourceType": "AWS::SQS::Queue", "PhysicalResourceId": "q"}
            return [{"StackResourceSummaries": [queue]}, {"StackResourceSummaries": [topic]}]

    class Sns:
        subscribed: list[dict[str, str]] = []

        def list_subscriptions_by_topic(self, TopicArn: str) -> dict[str, Any]:
            return {
                "Subscriptions": [
                    {
                        "SubscriptionArn": "PendingConfirmation",
                        "Protocol": "https",
                        "Endpoint": "https://api/sns/notification",
                    },
                    {"SubscriptionArn": "arn:sub:1", "Protocol": "https", "Endpoint": "https://x"},
                    {
                        "SubscriptionArn": "PendingConfirmation",
                        "Protocol": "email",
                        "Endpoint": "ops@example.co",
                    },
                ]
            }

        def subscribe(self, **kwargs: str) -> dict[str, str]:
            self.subscribed.append(kwargs)
            return {"SubscriptionArn": "pending confirmation"}

    sns = Sns()
    asked = resend_pending_confirmations(Settings(target=Target.AWS), cfn=Stack(), sns=sns)
    assert asked == ["https://api/sns/notification"]
    assert sns.subscribed == [
        {
            "TopicArn": "arn:topic:payments",
            "Protocol": "https",
            "Endpoint": "https://api/sns/notification",
        }
    ]


@pytest.mark.parametrize(
    ("running", "asked", "deployed"),
    [
        (None, None, "1"),  # a stack from before the choice: its one NAT gateway stays
        ("2", None, "2"),
        ("1", 2, "2"),
        ("2", 1, "1"),
        ("2", 2, "2"),
    ],
)
def test_an_update_keeps_the_stacks_nat_gateways_unless_asked(
    running: str | None, asked: int | None, deployed: str
) -> None:
    """A new NAT gateway is a new address the partners' allowlists do not have yet."""
    log: list[tuple[str, Any]] = []
    deployer = _deployer(OUTPUTS, log)
    if running is not None:
        deployer.cfn.more_parameters["NatGateways"] = running
    said: list[str] = []
    deployer.progress = said.append
    deployer.run(dataclasses.replace(RELEASE, nat_gateways=asked))
    assert {arg["NatGateways"] for step, arg in log if step == "deploy"} == {deployed}
    changed = [line for line in said if line.startswith("NAT gateways change")]
    assert bool(changed) == (deployed != (running or "1"))
