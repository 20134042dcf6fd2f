"""The CloudFormation template: parseable, deployable to LocalStack, and naming §3's resources."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from paylab.infra.template import CloudFormationLoader, load_template

# Resource types localstack-core 2026.3.0 can create: its entry-point group
# `localstack.cloudformation.resource_providers`, lower-cased as it registers them.
# Regenerate when the pinned LocalStack changes.
_LOCALSTACK_TYPES_BY_SERVICE = {
    "apigateway": (
        "account apikey basepathmapping deployment domainname gatewayresponse method "
        "model requestvalidator resource restapi stage usageplan usageplankey"
    ),
    "cdk": "metadata",
    "certificatemanager": "certificate",
    "cloudformation": "macro stack waitcondition waitconditionhandle",
    "cloudwatch": "alarm compositealarm",
    "dynamodb": "globaltable table",
    "ec2": (
        "dhcpoptions instance internetgateway keypair natgateway networkacl prefixlist "
        "route routetable securitygroup subnet subnetroutetableassociation transitgateway "
        "transitgatewayattachment vpc vpcendpoint vpcgatewayattachment"
    ),
    "ecr": "repository",
    "elasticsearch": "domain",
    "events": "apidestination connection eventbus eventbuspolicy rule",
    "iam": (
        "accesskey group instanceprofile managedpolicy policy role servercertificate "
        "servicelinkedrole user"
    ),
    "kinesis": "stream streamconsumer",
    "kinesisfirehose": "deliverystream",
    "kms": "alias key",
    "lambda": (
        "alias codesigningconfig eventinvokeconfig eventsourcemapping function "
        "layerversion layerversionpermission permission url version"
    ),
    "logs": "loggroup logstream subscriptionfilter",
    "opensearchservice": "domain",
    "redshift": "cluster",
    "resourcegroups": "group",
    "route53": "healthcheck recordset",
    "s3": "bucket bucketpolicy",
    "scheduler": "schedule schedulegroup",
    "secretsmanager": "resourcepolicy rotationschedule secret secrettargetattachment",
    "ses": "emailidentity",
    "sns": "subscription topic topicpolicy",
    "sqs": "queue queueinlinepolicy queuepolicy",
    "ssm": (
        "maintenancewindow maintenancewindowtarget maintenancewindowtask parameter patchbaseline"
    ),
    "stepfunctions": "activity statemachine",
}
LOCALSTACK_RESOURCE_TYPES = frozenset(
    f"aws::{service}::{name}"
    for service, names in _LOCALSTACK_TYPES_BY_SERVICE.items()
    for name in names.split()
)

PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)

CONTRACT_TAG = "paylab:contract-name"

# ARCHITECTURE §3: (contract name, resource type, physical name, {output key: what it resolves
# to: the resource's Ref or one of its attributes}).
CONTRACT: list[tuple[str, str, str, dict[str, str]]] = [
    (
        "payment-events",
        "AWS::SNS::Topic",
        "${AWS::StackName}-payment-events",
        {"PaymentEventsTopicArn": "Ref"},
    ),
    (
        "wallet-events",
        "AWS::SNS::Topic",
        "${AWS::StackName}-wallet-events",
        {"WalletEventsTopicArn": "Ref"},
    ),
    (
        "merchant-events",
        "AWS::SNS::Topic",
        "${AWS::StackName}-merchant-events",
        {"MerchantEventsTopicArn": "Ref"},
    ),
    (
        "paylab",
        "AWS::Events::EventBus",
        "${AWS::StackName}",
        {"EventBusName": "Ref", "EventBusArn": "Arn"},
    ),
    (
        "notification-ops.fifo",
        "AWS::SQS::Queue",
        "${AWS::StackName}-notification-ops.fifo",
        {"NotificationOpsQueueUrl": "Ref", "NotificationOpsQueueArn": "Arn"},
    ),
    (
        "notification-ops-dlq.fifo",
        "AWS::SQS::Queue",
        "${AWS::StackName}-notification-ops-dlq.fifo",
        {"NotificationOpsDlqUrl": "Ref", "NotificationOpsDlqArn": "Arn"},
    ),
    (
        "audit-ops.fifo",
        "AWS::SQS::Queue",
        "${AWS::StackName}-audit-ops.fifo",
        {"AuditOpsQueueUrl": "Ref", "AuditOpsQueueArn": "Arn"},
    ),
    (
        "audit-ops-dlq.fifo",
        "AWS::SQS::Queue",
        "${AWS::StackName}-audit-ops-dlq.fifo",
        {"AuditOpsDlqUrl": "Ref", "AuditOpsDlqArn": "Arn"},
    ),
    (
        "notification-ops-parking.fifo",
        "AWS::SQS::Queue",
        "${AWS::StackName}-notification-ops-parking.fifo",
        {"NotificationOpsParkingUrl": "Ref", "NotificationOpsParkingArn": "Arn"},
    ),
    (
        "audit-ops-parking.fifo",
        "AWS::SQS::Queue",
        "${AWS::StackName}-audit-ops-parking.fifo",
        {"AuditOpsParkingUrl": "Ref", "AuditOpsParkingArn": "Arn"},
    ),
    (
        "merchant-ops.fifo",
        "AWS::SQS::Queue",
        "${AWS::StackName}-merchant-ops.fifo",
        {"MerchantOpsQueueUrl": "Ref", "MerchantOpsQueueArn": "Arn"},
    ),
    (
        "merchant-ops-dlq.fifo",
        "AWS::SQS::Queue",
        "${AWS::StackName}-merchant-ops-dlq.fifo",
        {"MerchantOpsDlqUrl": "Ref", "MerchantOpsDlqArn": "Arn"},
    ),
    (
        "merchant-ops-parking.fifo",
        "AWS::SQS::Queue",
        "${AWS::StackName}-merchant-ops-parking.fifo",
        {"MerchantOpsParkingUrl": "Ref", "MerchantOpsParkingArn": "Arn"},
    ),
    (
        "merchant-webhooks.fifo",
        "AWS::SQS::Queue",
        "${AWS::StackName}-merchant-webhooks.fifo",
        {"MerchantWebhooksQueueUrl": "Ref", "MerchantWebhooksQueueArn": "Arn"},
    ),
    (
        "merchant-webhooks-dlq.fifo",
        "AWS::SQS::Queue",
        "${AWS::StackName}-merchant-webhooks-dlq.fifo",
        {"MerchantWebhooksDlqUrl": "Ref", "MerchantWebhooksDlqArn": "Arn"},
    ),
    (
        "merchant-webhooks-parking.fifo",
        "AWS::SQS::Queue",
        "${AWS::StackName}-merchant-webhooks-parking.fifo",
        {"MerchantWebhooksParkingUrl": "Ref", "MerchantWebhooksParkingArn": "Arn"},
    ),
    (
        "payment-events",
        "AWS::DynamoDB::Table",
        "${AWS::StackName}-payment-events",
        {"PaymentEventStoreTableName": "Ref", "PaymentEventStoreTableArn": "Arn"},
    ),
    (
        "paylab/jwt-signing-key",
        "AWS::SecretsManager::Secret",
        "${AWS::StackName}/jwt-signing-key",
        {"JwtSigningKeySecretArn": "Ref"},
    ),
    (
        "paylab/internal-service-credential",
        "AWS::SecretsManager::Secret",
        "${AWS::StackName}/internal-service-credential",
        {"InternalServiceCredentialSecretArn": "Ref"},
    ),
]

NAME_PROPERTIES = {
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Events::EventBus": "Name",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SecretsManager::Secret": "Name",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in the template, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _sub_variables(sub: Any) -> Iterator[str]:
    text, local = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
    for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
        if name.split(".")[0] not in local:
            yield name


def _contract_tag(resource: dict[str, Any]) -> str | None:
    for tag in resource.get("Properties", {}).get("Tags", []):
        if tag["Key"] == CONTRACT_TAG:
            return str(tag["Value"])
    return None


def test_loader_turns_short_forms_into_long_forms() -> None:
    text = """
    a: !Ref Thing
    b: !GetAtt Queue.Arn
    c: !Sub ["${X}-${AWS::StackName}", {X: !Ref Other}]
    d: !If [IsAws, !Equals [!Ref Env, aws], !Ref AWS::NoValue]
    e: !Join ["", [!Select [0, !GetAZs ""]]]
    """
    loaded = yaml.load(text, Loader=CloudFormationLoader)
    assert loaded == {
        "a": {"Ref": "Thing"},
        "b": {"Fn::GetAtt": ["Queue", "Arn"]},
        "c": {"Fn::Sub": ["${X}-${AWS::StackName}", {"X": {"Ref": "Other"}}]},
        "d": {
            "Fn::If": [
                "IsAws",
                {"Fn::Equals": [{"Ref": "Env"}, "aws"]},
                {"Ref": "AWS::NoValue"},
            ]
        },
        "e": {"Fn::Join": ["", [{"Fn::Select": [0, {"Fn::GetAZs": ""}]}]]},
    }


def test_environment_parameter_and_aws_only_condition(template: dict[str, Any]) -> None:
    environment = template["Parameters"]["Environment"]
    assert environment["Type"] == "String"
    assert set(environment["AllowedValues"]) == {"local", "aws"}
    assert environment["Default"] == "local"
    assert template["Conditions"]["IsAws"] == {"Fn::Equals": [{"Ref": "Environment"}, "aws"]}


def test_every_resource_localstack_creates_is_a_type_it_supports(
    template: dict[str, Any],
) -> None:
    unsupported = {
        name: resource["Type"]
        for name, resource in template["Resources"].items()
        if resource.get("Condition") != "IsAws"
        and resource["Type"].lower() not in LOCALSTACK_RESOURCE_TYPES
    }
    assert unsupported == {}, "only resources behind `Condition: IsAws` may use these types"


def test_every_queue_has_a_dead_letter_queue(template: dict[str, Any]) -> None:
    queues = _resources(template, "AWS::SQS::Queue")
    dlqs = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    assert dlqs, "no queue has a RedrivePolicy"
    for name, queue in queues.items():
        props = queue["Properties"]
        if name in dlqs:
            assert "RedrivePolicy" not in props, f"{name} is a DLQ and must not redrive"
            continue
        if str(_contract_tag(queue)).endswith("-parking.fifo"):
            # Parking is terminal: an operator moves its messages back (README, Dead letters).
            assert "RedrivePolicy" not in props, f"{name} is a parking queue"
            continue
        policy = props.get("RedrivePolicy")
        assert policy, f"{name} has no dead-letter queue"
        assert policy["deadLetterTargetArn"]["Fn::GetAtt"][1] == "Arn"
        assert 3 <= policy["maxReceiveCount"] <= 5, "ARCHITECTURE §2.5: maxReceiveCount 3..5"
        dlq = queues[policy["deadLetterTargetArn"]["Fn::GetAtt"][0]]["Properties"]
        assert dlq.get("FifoQueue", False) == props.get("FifoQueue", False), (
            f"{name}: a FIFO queue needs a FIFO DLQ and a standard one a standard DLQ"
        )
        # FIFO messages keep their enqueue time in the DLQ: it must retain them longer.
        assert dlq["MessageRetentionPeriod"] >= props["MessageRetentionPeriod"], name
        assert props["VisibilityTimeout"] >= 30, name


def test_fifo_queues_require_an_explicit_deduplication_id(template: dict[str, Any]) -> None:
    # EventBridge sends no deduplication id to a FIFO target: its queues dedupe by content.
    rule_targets = {
        target["Arn"]["Fn::GetAtt"][0]
        for rule in _resources(template, "AWS::Events::Rule").values()
        for target in rule["Properties"].get("Targets", [])
        if isinstance(target["Arn"], dict) and "Fn::GetAtt" in target["Arn"]
    }
    for name, queue in _resources(template, "AWS::SQS::Queue").items():
        props = queue["Properties"]
        assert props["FifoQueue"] is True, name
        assert props["ContentBasedDeduplication"] is (name in rule_targets), name


def test_ops_queues_dead_letter_after_four_receives(template: dict[str, Any]) -> None:
    for name in ("NotificationOpsQueue", "AuditOpsQueue", "MerchantWebhooksQueue"):
        policy = template["Resources"][name]["Properties"]["RedrivePolicy"]
        assert policy["maxReceiveCount"] == 4, name


def test_every_reference_resolves(template: dict[str, Any]) -> None:
    parameters = set(template.get("Parameters", {}))
    resources = set(template["Resources"])
    conditions = set(template.get("Conditions", {}))
    refable = parameters | resources | PSEUDO_PARAMETERS
    broken: list[str] = []
    for node in _walk({"Resources": template["Resources"], "Outputs": template["Outputs"]}):
        if "Ref" in node and isinstance(node["Ref"], str) and node["Ref"] not in refable:
            broken.append(f"Ref {node['Ref']}")
        if "Fn::GetAtt" in node and node["Fn::GetAtt"][0] not in resources:
            broken.append(f"GetAtt {node['Fn::GetAtt']}")
        if "Fn::Sub" in node:
            for variable in _sub_variables(node["Fn::Sub"]):
                target = variable.split(".")[0]
                if variable not in PSEUDO_PARAMETERS and target not in refable:
                    broken.append(f"Sub ${{{variable}}}")
        if "Fn::If" in node and node["Fn::If"][0] not in conditions:
            broken.append(f"If {node['Fn::If'][0]}")
    for name, resource in template["Resources"].items():
        if "Condition" in resource and resource["Condition"] not in conditions:
            broken.append(f"{name}: Condition {resource['Condition']}")
        depends = resource.get("DependsOn", [])
        for dependency in [depends] if isinstance(depends, str) else depends:
            if dependency not in resources:
                broken.append(f"{name}: DependsOn {dependency}")
    assert broken == []


def test_outputs_resolve_to_resources_localstack_also_creates(template: dict[str, Any]) -> None:
    aws_only = {k for k, v in template["Resources"].items() if v.get("Condition") == "IsAws"}
    for key, output in template["Outputs"].items():
        assert "Value" in output, key
        targets = {n["Ref"] for n in _walk(output) if "Ref" in n}
        targets |= {n["Fn::GetAtt"][0] for n in _walk(output) if "Fn::GetAtt" in n}
        # An output of an AWS-only resource would break the local deployment.
        if output.get("Condition") != "IsAws":
            assert not targets & aws_only, f"output {key} needs `Condition: IsAws`"


@pytest.mark.parametrize(
    ("contract_name", "type_", "physical", "outputs"),
    CONTRACT,
    ids=[f"{type_.split('::')[1]}:{name}" for name, type_, _, _ in CONTRACT],
)
def test_architecture_names_are_present_with_stable_outputs(
    template: dict[str, Any],
    contract_name: str,
    type_: str,
    physical: str,
    outputs: dict[str, str],
) -> None:
    matches = {
        logical: resource
        for logical, resource in _resources(template, type_).items()
        if _contract_tag(resource) == contract_name
    }
    assert len(matches) == 1, f"exactly one {type_} tagged {CONTRACT_TAG}={contract_name}"
    ((logical, resource),) = matches.items()
    assert resource.get("Condition") is None, "contract resources exist in both environments"
    name = resource["Properties"][NAME_PROPERTIES[type_]]
    expected_name = (
        {"Ref": "AWS::StackName"} if physical == "${AWS::StackName}" else {"Fn::Sub": physical}
    )
    assert name == expected_name
    for key, kind in outputs.items():
        expected = {"Ref": logical} if kind == "Ref" else {"Fn::GetAtt": [logical, kind]}
        assert key in template["Outputs"], f"no output {key}"
        assert template["Outputs"][key]["Value"] == expected, key


def test_every_physical_name_derives_from_the_stack_name(template: dict[str, Any]) -> None:
    for logical, resource in template["Resources"].items():
        prop = NAME_PROPERTIES.get(resource["Type"])
        if prop is None or prop not in resource.get("Properties", {}):
            continue
        name = resource["Properties"][prop]
        text = name.get("Fn::Sub", "") if isinstance(name, dict) else name
        assert name == {"Ref": "AWS::StackName"} or "${AWS::StackName}" in str(text), logical


def test_event_store_table_keys(template: dict[str, Any]) -> None:
    (table,) = _resources(template, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [
        {"AttributeName": "stream_id", "KeyType": "HASH"},
        {"AttributeName": "version", "KeyType": "RANGE"},
    ]
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert types == {"stream_id": "S", "version": "N"}


def test_secrets_we_own_are_generated_never_written_in_the_template(
    template: dict[str, Any],
) -> None:
    secrets = _resources(template, "AWS::SecretsManager::Secret")
    assert secrets
    for name, secret in secrets.items():
        props = secret["Properties"]
        assert "SecretString" not in props, f"{name}: a literal secret value in the template"
        generated = props["GenerateSecretString"]
        assert generated["PasswordLength"] >= 32, name


def test_push_filters_pass_what_each_subscriber_handles(template: dict[str, Any]) -> None:
    """A filter that dropped a handled type would silently lose messages."""
    from paylab.notification.messages import HANDLED

    resources = template["Resources"]
    notification = resources["NotificationPaymentEventsSubscription"]["Properties"]["FilterPolicy"]
    assert set(notification["type"]) <= HANDLED


def test_audit_and_merchant_take_no_push(template: dict[str, Any]) -> None:
    """They read their queues (decisions.md, "Audit and merchant read their queues")."""
    subscriptions = _resources(template, "AWS::SNS::Subscription").values()
    endpoints = [s["Properties"]["Endpoint"] for s in subscriptions]
    assert endpoints, "no SNS subscription at all"
    notification = {
        "Fn::If": [
            "IsAws",
            {"Fn::GetAtt": ["ComputePlane", "Outputs.NotificationPushEndpoint"]},
            {"Ref": "NotificationPushEndpoint"},
        ]
    }
    assert all(e == notification for e in endpoints), endpoints
