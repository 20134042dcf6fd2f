"""`paylab deploy`: the template, its compute plane and the code, to AWS (ARCHITECTURE §5).

Locally `up` deploys the template to LocalStack and runs the services on the host. On AWS the
same template, with Environment=aws, also creates the compute plane (infra/compute.yaml): the
services run from the platform image on ECS, and the database is bootstrapped by a task.

The order keeps the services on a schema they know:
- first deployment: the stack is created with no tasks, the bootstrap task creates the roles,
  schemas and passwords and migrates, then the services are started;
- later ones: the stack is first updated with the *running* image (what the new release adds,
  a database secret, an output, a variable, exists before anything needs it), then the
  bootstrap task runs the *new* image's migrations (a revision of its task definition with the
  new image), then the stack rolls the services over. The running services meet the new
  schema before their new code does, so migrations must be additive (expand now, contract in a
  later release), as they have been so far.
A stack another deployment is changing, or one stuck after a failed rollback, is refused with
what to do about it.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from paylab.core.aws import client
from paylab.core.settings import Settings
from paylab.infra.artifacts import Artifacts, publish
from paylab.infra.deploy import (
    STUCK,
    DeploymentError,
    deploy,
    resend_pending_confirmations,
    stuck_message,
)
from paylab.infra.ses_identity import create_identity

# Aurora and ElastiCache take 10-20 minutes to create; an update of the services ~5.
STACK_TIMEOUT_S = 3600.0
BOOTSTRAP_TIMEOUT_S = 900
# DescribeStacks is throttled on AWS, and a deployment lasts minutes: no need to ask often.
STACK_POLL_S = 5.0
# The outputs the parent stack has only once its compute plane exists.
COMPUTE_OUTPUTS = (
    "ClusterName",
    "DbBootstrapTaskDefinitionArn",
    "PrivateSubnetIds",
    "ServicesSecurityGroupId",
)
# What `register_task_definition` takes back from `describe_task_definition`.
_TASK_DEFINITION_FIELDS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "runtimePlatform",
    "ephemeralStorage",
    "volumes",
)


@dataclass(frozen=True)
class Release:
    """What a deployment to AWS needs beyond the code: the image and the partners."""

    image: str
    pse_url: str
    bank_url: str
    antifraud_url: str
    sms_url: str
    sender_email: str
    checkout_return_url: str
    desired_count: int = 2
    max_count: int = 6
    # None: what the running stack has (1 when it predates the choice), 2 for a new stack.
    nat_gateways: int | None = None

    def parameters(
        self,
        desired_count: int,
        image: str | None = None,
        *,
        set_counts: bool = True,
        protect_data: bool = True,
        sender_identity: bool = True,
        nat_gateways: int = 2,
    ) -> dict[str, str]:
        """The template's parameters for this release, with `image` instead of its own.

        `set_counts=False` leaves the running services at the counts their autoscaling
        chose (CloudFormation would otherwise set them back to `desired_count`).
        `protect_data=False` only for the first creation: its rollback must be able to
        delete the cluster. `sender_identity=False` when SES already has one outside the stack.
        """
        return {
            "PlatformImage": image or self.image,
            "PseUrl": self.pse_url,
            "BankUrl": self.bank_url,
            "AntifraudUrl": self.antifraud_url,
            "SmsUrl": self.sms_url,
            "SenderEmail": self.sender_email,
            "CheckoutReturnUrl": self.checkout_return_url,
            "ServiceDesiredCount": str(desired_count),
            "ServiceMaxCount": str(max(self.max_count, desired_count, 1)),
            "ServiceSetCounts": "true" if set_counts else "false",
            "ProtectData": "true" if protect_data else "false",
            "CreateSenderIdentity": "true" if sender_identity else "false",
            "NatGateways": str(nat_gateways),
        }


class AwsDeployer:
    """Publishes the artifacts, deploys the stack and bootstraps the database, in order."""

    def __init__(
        self,
        settings: Settings,
        progress: Callable[[str], None] = lambda _: None,
        *,
        cfn: Any = None,
        ecs: Any = None,
        ses: Any = None,
        publish_artifacts: Callable[[Settings], Artifacts] = publish,
        deploy_stack: Callable[..., dict[str, str]] = deploy,
        resend_confirmations: Callable[..., list[str]] = resend_pending_confirmations,
    ) -> None:
        self.settings = settings
        self.progress = progress
        self.cfn = cfn or client("cloudformation", settings)
        self.ecs = ecs or client("ecs", settings)
        self.ses = ses or client("sesv2", settings)
        self.publish_artifacts = publish_artifacts
        self.deploy_stack = deploy_stack
        self.resend_confirmations = resend_confirmations

    def run(self, release: Release) -> dict[str, str]:
        """Deploy `release`; the stack's outputs (ApiUrl among them) once the services run."""
        current = self._current()
        if current is not None:
            status = current["status"]
            if status.endswith("_IN_PROGRESS"):
                raise DeploymentError(
                    f"stack {self.settings.stack_name} is {status}: another deployment is"
                    " changing it; deploy again once it has ended"
                )
            if status in STUCK:
                raise DeploymentError(stuck_message(self.cfn, self.settings.stack_name, status))
        running = (
            current
            if current is not None
            and current["status"] != "ROLLBACK_COMPLETE"
            and all(k in current["outputs"] for k in COMPUTE_OUTPUTS)
            else None
        )
        identity = create_identity(
            self.ses, release.sender_email, running["parameters"] if running else None
        )
        if not identity:
            self.progress(f"SES already has an identity for {release.sender_email}: kept as is")
        nat = self._nat_gateways(release, running)
        params = functools.partial(release.parameters, sender_identity=identity, nat_gateways=nat)
        self.progress("publishing the template, the Lambda code and the state machines")
        artifacts = self.publish_artifacts(self.settings)
        set_counts = True
        if running is not None:
            previous = running["parameters"].get("PlatformImage") or release.image
            # Autoscaling may have scaled the services out: keep their counts. Only services
            # that were never started (floor 0) get theirs; a new floor moves the scalable
            # targets' minimum, and Application Auto Scaling brings each count into range.
            floor = running["parameters"].get("ServiceDesiredCount", "0")
            set_counts = floor == "0"
            if floor != str(release.desired_count):
                self.progress(f"the floor changes from {floor} to {release.desired_count} tasks")
            # Services never started (a first deployment stopped at its bootstrap) stay at 0
            # until the bootstrap below has run: their database may have no schema yet.
            before = 0 if set_counts else release.desired_count
            self.progress("updating the stack with the running image (what the release adds)")
            outputs = self._deploy(artifacts, params(before, previous, set_counts=set_counts))
            self.progress("migrating the database with the new image")
            self.bootstrap(outputs, image=release.image)
            self.progress("rolling the services over to the new image")
        else:
            # Without deletion protection until the services start: a creation that fails
            # rolls back cleanly instead of ending in ROLLBACK_FAILED over the cluster.
            self.progress("creating the stack without tasks (the database is not bootstrapped)")
            outputs = self._deploy(artifacts, params(0, protect_data=False))
            self.progress("bootstrapping the database")
            self.bootstrap(outputs)
            self.progress(f"starting {release.desired_count} task(s) of each service")
        outputs = self._deploy(artifacts, params(release.desired_count, set_counts=set_counts))
        # The stack waited for the services to be stable: the push endpoint now answers the
        # confirmations SNS sent (and gave up on) while no task ran.
        for endpoint in self.resend_confirmations(self.settings, cfn=self.cfn):
            self.progress(f"asked SNS to confirm {endpoint} again")
        return outputs

    def _nat_gateways(self, release: Release, running: dict[str, Any] | None) -> int:
        """The NAT gateways to deploy: a change moves partner calls to a new address."""
        if running is None:
            return release.nat_gateways or 2
        # A stack from before the choice had one NAT gateway.
        now = int(running["parameters"].get("NatGateways") or 1)
        wanted = release.nat_gateways or now
        if wanted != now:
            self.progress(
                f"NAT gateways change from {now} to {wanted}: partners that allowlist"
                " addresses need the new EgressAddresses"
            )
        return wanted

    def bootstrap(self, outputs: dict[str, str], image: str | None = None) -> None:
        """Run the db-bootstrap task (with `image`, when given) and wait for it to succeed."""
        missing = [k for k in COMPUTE_OUTPUTS if k not in outputs]
        if missing:
            raise DeploymentError(f"the stack has no compute plane outputs: {', '.join(missing)}")
        definition = outputs["DbBootstrapTaskDefinitionArn"]
        if image is None:
            self._run_bootstrap(outputs, definition)
            return
        revision = self._with_image(definition, image)
        try:
            self._run_bootstrap(outputs, revision)
        finally:
            # The stack's own revision is the one to keep: this one ran once.
            self.ecs.deregister_task_definition(taskDefinition=revision)

    def _run_bootstrap(self, outputs: dict[str, str], definition: str) -> None:
        cluster = outputs["ClusterName"]
        started = self.ecs.run_task(
            cluster=cluster,
            taskDefinition=definition,
            launchType="FARGATE",
            count=1,
            startedBy="paylab-deploy",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": outputs["PrivateSubnetIds"].split(","),
                    "securityGroups": [outputs["ServicesSecurityGroupId"]],
                    "assignPublicIp": "DISABLED",
                }
            },
        )
        if started.get("failures") or not started.get("tasks"):
            raise DeploymentError(
                f"the database bootstrap task did not start: {started.get('failures')}"
            )
        task_arn = started["tasks"][0]["taskArn"]
        try:
            self.ecs.get_waiter("tasks_stopped").wait(
                cluster=cluster,
                tasks=[task_arn],
                WaiterConfig={"Delay": 6, "MaxAttempts": BOOTSTRAP_TIMEOUT_S // 6},
            )
        except WaiterError as exc:
            raise DeploymentError(
                f"the database bootstrap task {task_arn} did not end: {exc}"
            ) from exc
        task = self.ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0]
        codes = [c.get("exitCode") for c in task.get("containers", [])]
        if codes != [0]:
            code = codes[0] if codes else None
            reason = task.get("stoppedReason", "no reason given")
            raise DeploymentError(
                f"the database bootstrap task {task_arn} failed (exit code {code}, {reason});"
                f" its log is in CloudWatch Logs, group /paylab/{self.settings.stack_name},"
                " stream prefix db-bootstrap"
            )

    def _with_image(self, definition: str, image: str) -> str:
        """A new revision of the bootstrap task's definition that runs `image`."""
        current = self.ecs.describe_task_definition(taskDefinition=definition)["taskDefinition"]
        revision = {k: copy.deepcopy(current[k]) for k in _TASK_DEFINITION_FIELDS if k in current}
        for container in revision["containerDefinitions"]:
            container["image"] = image
        registered = self.ecs.register_task_definition(**revision)
        return str(registered["taskDefinition"]["taskDefinitionArn"])

    def _deploy(self, artifacts: Artifacts, parameters: dict[str, str]) -> dict[str, str]:
        return self.deploy_stack(
            self.settings,
            self.progress,
            timeout=STACK_TIMEOUT_S,
            parameters={**artifacts.parameters(), **parameters},
            template_url=artifacts.template_url,
            poll_s=STACK_POLL_S,
        )

    def _current(self) -> dict[str, Any] | None:
        """The stack's status, outputs and parameters; None when there is no stack yet."""
        try:
            stacks = self.cfn.describe_stacks(StackName=self.settings.stack_name)["Stacks"]
        except ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        stack = stacks[0]
        return {
            "status": str(stack["StackStatus"]),
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
            "parameters": {
                p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])
            },
        }
