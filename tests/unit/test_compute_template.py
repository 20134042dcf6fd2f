"""The compute plane (infra/compute.yaml) against the code it runs.

No AWS account is at hand: cfn-lint checks the resources' properties
(test_template_cfn_lint.py); these tests check what cfn-lint cannot know, that the tasks
run what `up` runs locally, on ARCHITECTURE's ports, with settings the code reads.
"""

from __future__ import annotations

import importlib
import inspect
import re
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from paylab.core.consumer_registry import REGISTRY
from paylab.core.settings import Settings
from paylab.devstack.process import ProcessManager
from paylab.devstack.services import SERVICES, HostServices
from paylab.infra import db_bootstrap
from paylab.infra.artifacts import COMPUTE_TEMPLATE
from paylab.infra.db_bootstrap import RDS_CA_BUNDLE
from paylab.infra.template import load_template

# Variables read without the PAYLAB_ prefix: core/settings.py's validation aliases.
_UNPREFIXED = {
    f.validation_alias
    for f in Settings.model_fields.values()
    if isinstance(f.validation_alias, str)
}


@pytest.fixture(scope="module")
def compute() -> dict[str, Any]:
    return load_template(COMPUTE_TEMPLATE)


@pytest.fixture(scope="module")
def parent() -> dict[str, Any]:
    return load_template()


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {n: r for n, r in template["Resources"].items() if r["Type"] == kind}


def _container(task: dict[str, Any]) -> dict[str, Any]:
    (container,) = task["Properties"]["ContainerDefinitions"]
    return dict(container)


def _tasks(compute: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Container name -> container definition, for every task definition."""
    tasks = _of_type(compute, "AWS::ECS::TaskDefinition").values()
    return {_container(t)["Name"]: _container(t) for t in tasks}


def _settings_classes() -> list[type[BaseSettings]]:
    classes: list[type[BaseSettings]] = [Settings]
    for name in SERVICES:
        module = importlib.import_module(f"paylab.{name}.settings")
        classes += [
            c
            for c in vars(module).values()
            if isinstance(c, type) and issubclass(c, BaseSettings) and c is not Settings
        ]
    return classes


def _reads(variable: str, classes: list[type[BaseSettings]]) -> bool:
    """Whether some settings class reads `variable` (env prefix + field name)."""
    if variable in _UNPREFIXED:
        return True
    for cls in classes:
        prefix = str(cls.model_config.get("env_prefix", "")).upper()
        if prefix and variable.startswith(prefix):
            field = variable[len(prefix) :].lower()
            if field in cls.model_fields:
                return True
    return False


def test_each_service_runs_on_its_architecture_port_with_the_local_command(
    compute: dict[str, Any],
) -> None:
    """The task runs the argv `up` runs (devstack/services.py), listening on all interfaces."""
    tasks = _tasks(compute)
    specs = HostServices(Path.cwd(), ProcessManager(Path("/nonexistent"))).specs(SERVICES)
    for spec in specs:
        container = tasks[spec.name]
        local = [a if a != "127.0.0.1" else "0.0.0.0" for a in spec.argv[1:]]
        assert container["Command"] == ["python", *local], spec.name
        assert container["PortMappings"] == [{"ContainerPort": spec.port}], spec.name


def test_each_service_has_a_listener_and_target_group_on_its_port(
    compute: dict[str, Any],
) -> None:
    listeners = {
        r["Properties"]["Port"]: r["Properties"]["DefaultActions"][0]["TargetGroupArn"]["Ref"]
        for r in _of_type(compute, "AWS::ElasticLoadBalancingV2::Listener").values()
    }
    groups = _of_type(compute, "AWS::ElasticLoadBalancingV2::TargetGroup")
    services = _of_type(compute, "AWS::ECS::Service")
    assert sorted(listeners) == sorted(SERVICES.values())
    for name, port in SERVICES.items():
        group = listeners[port]
        assert groups[group]["Properties"]["Port"] == port
        assert groups[group]["Properties"]["HealthCheckPath"] == "/health"
        (service,) = [
            s
            for s in services.values()
            if "LoadBalancers" in s["Properties"]
            and s["Properties"]["LoadBalancers"][0]["TargetGroupArn"] == {"Ref": group}
        ]
        assert service["Properties"]["LoadBalancers"][0]["ContainerName"] == name
        assert service["Properties"]["LoadBalancers"][0]["ContainerPort"] == port


def test_every_registered_consumer_runs_in_a_task(compute: dict[str, Any]) -> None:
    """A consumer no task runs would leave its queue to fill up on AWS."""
    run = []
    for container in _tasks(compute).values():
        command = container["Command"]
        if command[:3] == ["python", "-m", "paylab.core.consumer"]:
            run += command[3:]
    assert sorted(run) == sorted(REGISTRY)


def test_the_relay_and_the_bootstrap_run_modules_that_exist(compute: dict[str, Any]) -> None:
    tasks = _tasks(compute)
    for name, module in (
        ("outbox-relay", "paylab.core.outbox_relay"),
        ("db-bootstrap", "paylab.infra.db_bootstrap"),
    ):
        assert tasks[name]["Command"][:3] == ["python", "-m", module]
        importlib.import_module(module)
    assert tasks["outbox-relay"]["Command"][3:] == []


def test_every_task_verifies_auroras_certificate_against_the_images_rds_bundle(
    compute: dict[str, Any],
) -> None:
    """sslmode=require would encrypt without knowing who answers: verify-full checks the
    cluster's name against Amazon RDS's CA bundle, which the AWS image carries."""
    tasks = _tasks(compute)
    urls = 0
    for name, container in tasks.items():
        for variable in container["Environment"]:
            if variable["Name"] == "DATABASE_URL":
                query = variable["Value"]["Fn::Sub"].split("?", 1)[1]
                assert query == f"sslmode=verify-full&sslrootcert={RDS_CA_BUNDLE}", name
                urls += 1
    assert urls >= 7
    command = tasks["db-bootstrap"]["Command"][3:]
    assert command == ["--sslmode", "verify-full", "--sslrootcert", RDS_CA_BUNDLE]
    assert {"sslmode", "sslrootcert"} <= set(inspect.signature(db_bootstrap.main).parameters)


def test_every_variable_a_task_sets_is_a_setting_the_code_reads(compute: dict[str, Any]) -> None:
    """A misspelt variable would be ignored, and the service would use its local default."""
    classes = _settings_classes()
    for name, container in _tasks(compute).items():
        for variable in [*container["Environment"], *container.get("Secrets", [])]:
            assert _reads(variable["Name"], classes), (name, variable["Name"])


def _uses_redis(task: str) -> bool:
    """Whether the code a task runs connects to Redis: its package calls `redis_dsn()`.

    A service's task runs its package; a `<x>-consumer` task runs package x's handlers.
    """
    package = Path(importlib.import_module("paylab").__file__ or "").parent
    folder = package / task.removesuffix("-consumer")
    if not folder.is_dir():
        return False
    return any("redis_dsn()" in f.read_text() for f in folder.rglob("*.py"))


def test_only_tasks_whose_code_uses_redis_reach_it_and_they_get_its_auth_token(
    compute: dict[str, Any],
) -> None:
    token = {"Fn::Sub": "{{resolve:secretsmanager:${CacheAuthSecret}:SecretString:token}}"}
    assert compute["Resources"]["Cache"]["Properties"]["AuthToken"] == token
    users = set()
    for name, container in _tasks(compute).items():
        variables = {v["Name"] for v in container["Environment"]}
        secrets = {s["Name"]: s["ValueFrom"] for s in container.get("Secrets", [])}
        assert ("REDIS_URL" in variables) == _uses_redis(name), name
        if "REDIS_URL" in variables:
            users.add(name)
            assert secrets == {"REDIS_PASSWORD": {"Fn::Sub": "${CacheAuthSecret}:token::"}}, name
        else:
            assert secrets == {}, name
    assert users >= {"gateway", "auth", "payment"}  # the rate limits, the idempotency keys


def test_every_task_runs_on_aws_against_its_parent_stack(compute: dict[str, Any]) -> None:
    for name, container in _tasks(compute).items():
        env = {v["Name"]: v["Value"] for v in container["Environment"]}
        assert env["PAYLAB_TARGET"] == "aws", name
        assert env["PAYLAB_STACK_NAME"] == {"Ref": "ParentStackName"}, name


def test_a_service_that_calls_another_reaches_it_on_the_internal_balancer_at_its_port(
    compute: dict[str, Any],
) -> None:
    """PAYLAB_<SERVICE>_<OTHER>_URL points at <OTHER>'s port, never at a local default."""
    for name, container in _tasks(compute).items():
        for variable in container["Environment"]:
            match = re.fullmatch(r"PAYLAB_[A-Z]+_([A-Z]+)_URL", variable["Name"])
            if match and match.group(1).lower() in SERVICES:
                port = SERVICES[match.group(1).lower()]
                assert variable["Value"] == {
                    "Fn::Sub": f"http://${{InternalLoadBalancer.DNSName}}:{port}"
                }, (name, variable["Name"])


def test_the_parent_passes_every_parameter_and_reads_only_outputs_that_exist(
    compute: dict[str, Any], parent: dict[str, Any]
) -> None:
    nested = parent["Resources"]["ComputePlane"]
    assert nested["Condition"] == "IsAws"
    assert set(nested["Properties"]["Parameters"]) == set(compute["Parameters"])
    text = str(parent)
    read = set(re.findall(r"'Outputs\.(\w+)'", text))
    assert read, "the parent reads no compute plane output"
    assert read <= set(compute["Outputs"]), read - set(compute["Outputs"])


def test_the_deploy_command_finds_the_outputs_it_needs(parent: dict[str, Any]) -> None:
    from paylab.infra.aws_deploy import COMPUTE_OUTPUTS

    outputs = parent["Outputs"]
    for key in (*COMPUTE_OUTPUTS, "ApiUrl", "EgressAddresses"):
        assert outputs[key]["Condition"] == "IsAws", key


def test_lambdas_that_call_a_service_run_in_the_vpc_on_aws(parent: dict[str, Any]) -> None:
    """Outside the VPC a Lambda cannot reach the internal load balancer."""
    for name, function in _of_type(parent, "AWS::Lambda::Function").items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if any("ServiceUrl" in str(v) for v in variables.values()):
            vpc = function["Properties"].get("VpcConfig")
            assert vpc is not None and vpc["Fn::If"][0] == "IsAws", name


def test_the_gateway_trusts_the_client_address_api_gateway_states_and_nothing_else(
    compute: dict[str, Any],
) -> None:
    """API Gateway overwrites the header a client might send; the balancer leaves the
    gateway's X-Forwarded-For to the services (auth's and merchant's per-IP limits)."""
    env = {v["Name"]: v["Value"] for v in _tasks(compute)["gateway"]["Environment"]}
    header = env["PAYLAB_GATEWAY_CLIENT_IP_HEADER"]
    assert "PAYLAB_GATEWAY_TRUSTED_PROXY_HOPS" not in env
    integration = compute["Resources"]["GatewayIntegration"]["Properties"]
    assert integration["RequestParameters"] == {
        f"overwrite:header.{header}": "$context.identity.sourceIp"
    }
    attributes = compute["Resources"]["InternalLoadBalancer"]["Properties"][
        "LoadBalancerAttributes"
    ]
    assert {"Key": "routing.http.xff_header_processing.mode", "Value": "preserve"} in attributes


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        st
        for policy in role["Properties"]["Policies"]
        for st in policy["PolicyDocument"]["Statement"]
    ]


def _names(resource: Any, service: str) -> list[str]:
    """The `${ParentStackName}...` names a statement's resources give for `service`'s ARNs."""
    resources = resource if isinstance(resource, list) else [resource]
    found = []
    for item in resources:
        text = (
            item.get("Fn::Sub", "") if isinstance(item, dict) else item
        )  # a Ref: a child resource
        match = re.search(rf":{service}:.*?\$\{{AWS::AccountId\}}:(?:secret:)?(.*)$", text)
        if match:
            found.append(match.group(1))
    return found


def test_each_task_has_a_role_of_its_own_and_only_the_bootstrap_reads_the_admin_login(
    compute: dict[str, Any],
) -> None:
    roles = [
        task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
        for task in _of_type(compute, "AWS::ECS::TaskDefinition").values()
    ]
    assert len(roles) == len(set(roles))
    for name, role in _of_type(compute, "AWS::IAM::Role").items():
        secrets = [n for st in _statements(role) for n in _names(st["Resource"], "secretsmanager")]
        admin = [n for n in secrets if fnmatch("${ParentStackName}/db/admin-AbCdEf", n)]
        assert bool(admin) == (name == "BootstrapTaskRole"), (name, admin)


def test_every_resource_a_role_names_exists_in_the_parent(
    compute: dict[str, Any], parent: dict[str, Any]
) -> None:
    """A misspelt name in a policy would be an AccessDenied on AWS, and nothing else here."""
    created = set()
    for resource in parent["Resources"].values():
        props = resource.get("Properties", {})
        for key in (
            "Name",
            "QueueName",
            "TopicName",
            "TableName",
            "FunctionName",
            "StateMachineName",
        ):
            value = props.get(key)
            if isinstance(value, dict) and "Fn::Sub" in value:
                created.add(value["Fn::Sub"].replace("${AWS::StackName}", "${ParentStackName}"))
            elif value == {"Ref": "AWS::StackName"}:
                created.add("${ParentStackName}")
    checked = 0
    for name, role in _of_type(compute, "AWS::IAM::Role").items():
        for statement in _statements(role):
            for service in (
                "secretsmanager",
                "sqs",
                "sns",
                "dynamodb",
                "states",
                "lambda",
                "events",
            ):
                for named in _names(statement["Resource"], service):
                    named = named.removesuffix("-??????")
                    named = re.sub(r"^(table|stateMachine|function|event-bus)[/:]", "", named)
                    # A pattern ("${ParentStackName}/db/*") must match at least one of them.
                    assert any(fnmatch(c, named) for c in created), (name, service, named)
                    checked += 1
    assert checked >= 40


def test_the_review_findings_stay_fixed(compute: dict[str, Any], parent: dict[str, Any]) -> None:
    """Each would only show on a real first deployment (decisions.md, "The AWS compute plane")."""
    rotations = _of_type(parent, "AWS::SecretsManager::RotationSchedule")
    for name, schedule in rotations.items():
        if name.endswith("DbSecretRotation"):  # the roles do not exist before the bootstrap
            assert schedule["Properties"]["RotateImmediatelyOnUpdate"] == {
                "Fn::If": ["IsAws", False, {"Ref": "AWS::NoValue"}]
            }, name
    for name, instance in _of_type(compute, "AWS::RDS::DBInstance").items():
        assert instance["Properties"]["PubliclyAccessible"] is False, name
    for name, task in _of_type(compute, "AWS::ECS::TaskDefinition").items():
        # README: the image is built with --platform linux/amd64.
        assert task["Properties"]["RuntimePlatform"]["CpuArchitecture"] == "X86_64", name
    egress = compute["Resources"]["VpcLinkSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    routed = {SERVICES["gateway"], SERVICES["payment"], SERVICES["notification"]}
    assert {(rule["FromPort"], rule["ToPort"]) for rule in egress} == {(p, p) for p in routed}


def _scaled_services(compute: dict[str, Any]) -> dict[str, str]:
    """Service resource -> its scalable target, checked to range from the floor to MaxCount."""
    scaled = {}
    for name, target in _of_type(compute, "AWS::ApplicationAutoScaling::ScalableTarget").items():
        props = target["Properties"]
        # Floor 0 (not started: the database may not be bootstrapped): no scaling out either.
        assert (props["MinCapacity"], props["MaxCapacity"]) == (
            {"Ref": "DesiredCount"},
            {"Fn::If": ["Stopped", 0, {"Ref": "MaxCount"}]},
        ), name
        service = re.search(r"\$\{(\w+)\.Name\}", props["ResourceId"]["Fn::Sub"])
        assert service is not None, name
        scaled[service.group(1)] = name
    return scaled


def _policies(compute: dict[str, Any], target: str) -> dict[str, dict[str, Any]]:
    return {
        n: p["Properties"]
        for n, p in _of_type(compute, "AWS::ApplicationAutoScaling::ScalingPolicy").items()
        if p["Properties"]["ScalingTargetId"] == {"Ref": target}
    }


def test_each_http_service_scales_on_cpu_and_each_consumer_on_its_queues(
    compute: dict[str, Any], parent: dict[str, Any]
) -> None:
    services = _of_type(compute, "AWS::ECS::Service")
    http = {n for n, s in services.items() if "LoadBalancers" in s["Properties"]}
    task_of = {n: s["Properties"]["TaskDefinition"]["Ref"] for n, s in services.items()}
    consumers = {
        n: _container(compute["Resources"][task_of[n]])["Command"][3:]
        for n in services
        if _container(compute["Resources"][task_of[n]])["Command"][:3]
        == ["python", "-m", "paylab.core.consumer"]
    }
    scaled = _scaled_services(compute)
    assert sorted(scaled) == sorted(http | set(consumers) | {"OutboxRelayService"})
    for service in http:
        (policy,) = _policies(compute, scaled[service]).values()
        tracking = policy["TargetTrackingScalingPolicyConfiguration"]
        metric = tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
        assert metric == "ECSServiceAverageCPUUtilization", service
    alarms = _of_type(compute, "AWS::CloudWatch::Alarm")
    for service, names in consumers.items():
        # The queues the task reads, by name: registry -> parent output -> queue's QueueName.
        queues = set()
        for consumer in names:
            output = parent["Outputs"][REGISTRY[consumer].queue_output]["Value"]
            queue_name = parent["Resources"][output["Ref"]]["Properties"]["QueueName"]
            queues.add(queue_name["Fn::Sub"].removeprefix("${AWS::StackName}"))
        policies = _policies(compute, scaled[service])
        assert {p["PolicyType"] for p in policies.values()} == {"StepScaling"}, service
        steps = {
            n: p["StepScalingPolicyConfiguration"]["StepAdjustments"] for n, p in policies.items()
        }
        growing = {n for n, st in steps.items() if all(a["ScalingAdjustment"] > 0 for a in st)}
        shrinking = {n for n, st in steps.items() if all(a["ScalingAdjustment"] < 0 for a in st)}
        assert len(growing) == len(shrinking) == 1, service
        for policy in policies:
            (alarm,) = [
                a["Properties"]
                for a in alarms.values()
                if a["Properties"]["AlarmActions"] == [{"Ref": policy}]
            ]
            watched = {
                d["Value"]["Fn::Sub"].removeprefix("${ParentStackName}")
                for m in alarm["Metrics"]
                if "MetricStat" in m
                for d in m["MetricStat"]["Metric"]["Dimensions"]
            }
            assert watched == queues, (service, policy)
            above = alarm["ComparisonOperator"].startswith("Greater")
            assert above == (policy in growing), (service, policy)
    # CloudFormation writes DesiredCount on every update that names it: a deployment would
    # scale a loaded service back to the floor. Only `paylab deploy`'s SetCounts names it.
    for name, service_resource in services.items():
        expected = (
            {"Fn::If": ["SetCounts", {"Ref": "DesiredCount"}, {"Ref": "AWS::NoValue"}]}
            if name in scaled
            else {"Ref": "DesiredCount"}
        )
        assert service_resource["Properties"]["DesiredCount"] == expected, name
    assert compute["Conditions"]["SetCounts"] == {"Fn::Equals": [{"Ref": "SetCounts"}, "true"]}
    assert compute["Conditions"]["Stopped"] == {"Fn::Equals": [{"Ref": "DesiredCount"}, 0]}


def test_the_database_is_protected_as_the_parent_and_deploy_say(
    compute: dict[str, Any], parent: dict[str, Any]
) -> None:
    cluster = compute["Resources"]["DatabaseCluster"]
    assert cluster["Properties"]["DeletionProtection"] == {"Ref": "ProtectData"}
    assert cluster["DeletionPolicy"] == cluster["UpdateReplacePolicy"] == "Snapshot"
    assert compute["Parameters"]["ProtectData"]["Default"] == "true"
    plane = parent["Resources"]["ComputePlane"]["Properties"]["Parameters"]
    assert plane["ProtectData"] == {"Ref": "ProtectData"}
    # The event store too: a protected table would fail a first creation's rollback as well.
    table = parent["Resources"]["PaymentEventStore"]["Properties"]
    assert table["DeletionProtectionEnabled"] == {"Fn::If": ["ProtectData", True, False]}
    assert parent["Conditions"]["ProtectData"] == {
        "Fn::And": [{"Condition": "IsAws"}, {"Fn::Equals": [{"Ref": "ProtectData"}, "true"]}]
    }


def test_ses_verifies_the_sender_the_notification_tasks_do_not(compute: dict[str, Any]) -> None:
    """The tasks may only send (their roles); without the identity every email is refused."""
    identity = compute["Resources"]["SenderIdentity"]
    assert identity["Type"] == "AWS::SES::EmailIdentity"
    assert identity["Properties"]["EmailIdentity"] == {"Ref": "SenderEmail"}
    # Skipped only when SES already has one outside the stack (paylab deploy asks).
    assert identity["Condition"] == "CreateSenderIdentity"
    assert compute["Conditions"]["CreateSenderIdentity"] == {
        "Fn::Equals": [{"Ref": "CreateSenderIdentity"}, "true"]
    }
    for name in ("notification", "notification-consumer"):
        env = {v["Name"]: v["Value"] for v in _tasks(compute)[name]["Environment"]}
        assert env["PAYLAB_NOTIFICATION_VERIFY_SENDER"] == "false", name
        assert env["PAYLAB_NOTIFICATION_SENDER_EMAIL"] == {"Ref": "SenderEmail"}, name


def test_each_zone_reaches_the_partners_through_its_own_nat_gateway_unless_one_is_asked(
    compute: dict[str, Any], parent: dict[str, Any]
) -> None:
    res = compute["Resources"]
    assert compute["Conditions"]["SecondNat"] == {"Fn::Equals": [{"Ref": "NatGateways"}, 2]}
    assert parent["Parameters"]["NatGateways"]["Default"] == 2
    # Zone A's NAT always; zone B's only with NatGateways=2, in zone B's public subnet.
    assert "Condition" not in res["NatGateway"]
    assert res["NatGateway"]["Properties"]["SubnetId"] == {"Ref": "PublicSubnetA"}
    assert res["NatGatewayB"]["Condition"] == res["NatAddressB"]["Condition"] == "SecondNat"
    assert res["NatGatewayB"]["Properties"]["SubnetId"] == {"Ref": "PublicSubnetB"}
    routes = {
        r["Properties"]["SubnetId"]["Ref"]: r["Properties"]["RouteTableId"]["Ref"]
        for r in _of_type(compute, "AWS::EC2::SubnetRouteTableAssociation").values()
        if r["Properties"]["SubnetId"]["Ref"].startswith("Private")
    }
    assert routes == {"PrivateSubnetA": "PrivateRouteTable", "PrivateSubnetB": "PrivateRouteTableB"}
    # Moving zone B to its own table waits for the table's routes (no gap on an update).
    assert set(res["PrivateSubnetBRoutes"]["DependsOn"]) == {
        "PrivateDefaultRouteB",
        *_of_type(compute, "AWS::EC2::VPCEndpoint"),
    }
    default = {
        r["Properties"]["RouteTableId"]["Ref"]: r["Properties"]["NatGatewayId"]
        for r in _of_type(compute, "AWS::EC2::Route").values()
        if "NatGatewayId" in r["Properties"]
    }
    assert default == {
        "PrivateRouteTable": {"Ref": "NatGateway"},
        "PrivateRouteTableB": {
            "Fn::If": ["SecondNat", {"Ref": "NatGatewayB"}, {"Ref": "NatGateway"}]
        },
    }
    # S3 and DynamoDB stay off the NATs in both zones.
    for endpoint in _of_type(compute, "AWS::EC2::VPCEndpoint").values():
        tables = endpoint["Properties"]["RouteTableIds"]
        assert tables == [{"Ref": "PrivateRouteTable"}, {"Ref": "PrivateRouteTableB"}]
    # The partners' allowlists need every address the calls leave from.
    addresses = compute["Outputs"]["EgressAddresses"]["Value"]["Fn::If"]
    assert addresses[0] == "SecondNat"
    assert addresses[1] == {"Fn::Join": [",", [{"Ref": "NatAddress"}, {"Ref": "NatAddressB"}]]}
    assert addresses[2] == {"Ref": "NatAddress"}


def test_the_relay_scales_on_the_backlog_it_reports_and_a_stuck_outbox_alerts(
    compute: dict[str, Any], parent: dict[str, Any]
) -> None:
    from paylab.core import outbox_backlog

    gauge = {
        "Namespace": outbox_backlog.NAMESPACE,
        "MetricName": outbox_backlog.UNPUBLISHED,
        "Dimensions": [{"Name": "Stack", "Value": {"Ref": "ParentStackName"}}],
    }
    policies = _policies(compute, _scaled_services(compute)["OutboxRelayService"])
    alarms = _of_type(compute, "AWS::CloudWatch::Alarm").values()
    directions = set()
    for name, policy in policies.items():
        (alarm,) = [
            a["Properties"] for a in alarms if a["Properties"]["AlarmActions"] == [{"Ref": name}]
        ]
        stat, fill = alarm["Metrics"]
        # A report a minute (the relay's default), so each period has a point; a missing one
        # counts as an empty backlog, as the consumers' queues do.
        assert stat["MetricStat"] == {"Metric": gauge, "Period": 60, "Stat": "Maximum"}, name
        assert fill["Expression"] == f"FILL({stat['Id']}, 0)" and fill["ReturnData"], name
        steps = policy["StepScalingPolicyConfiguration"]["StepAdjustments"]
        growing = steps[0]["ScalingAdjustment"] > 0
        assert growing == alarm["ComparisonOperator"].startswith("Greater"), name
        directions.add(growing)
    assert directions == {True, False}
    # The relay's role may put the gauges, in their namespace only.
    role = compute["Resources"]["OutboxRelayTaskRole"]
    (put,) = [st for st in _statements(role) if st["Action"] == ["cloudwatch:PutMetricData"]]
    assert put["Condition"] == {"StringEquals": {"cloudwatch:namespace": outbox_backlog.NAMESPACE}}
    # No report (every relay down) is as bad as an old row; silent while nothing runs.
    stuck = parent["Resources"]["OutboxStuckAlarm"]
    # Created with the services: an alarm already on while they were stopped would not notify.
    assert stuck["Condition"] == "ServicesRunOnAws"
    assert parent["Conditions"]["ServicesRunOnAws"] == {
        "Fn::And": [{"Condition": "IsAws"}, {"Fn::Not": [{"Condition": "ServicesStopped"}]}]
    }
    props = stuck["Properties"]
    assert props["MetricName"] == outbox_backlog.OLDEST
    assert props["Namespace"] == outbox_backlog.NAMESPACE
    assert props["Dimensions"] == [{"Name": "Stack", "Value": {"Ref": "AWS::StackName"}}]
    assert props["TreatMissingData"] == "breaching"
    assert props["AlarmActions"] == [{"Ref": "OpsAlertsTopic"}]
    assert "ActionsEnabled" not in props
    stopped = parent["Conditions"]["ServicesStopped"]
    assert stopped == {"Fn::Equals": [{"Ref": "ServiceDesiredCount"}, 0]}
