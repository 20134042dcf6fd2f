"""The one template deploys to LocalStack and its outputs lead to working resources."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from paylab.core.settings import get_settings
from paylab.infra.artifacts import publish
from paylab.infra.template import TEMPLATE_PATH, load_template

from .messages import receive
from .resources import AwsClients, delete_stack

QUEUES = ("NotificationOps", "AuditOps")


def _parameters() -> dict[str, str]:
    """Environment=local plus the published Lambda zip and state machine definitions."""
    return {"Environment": "local", **publish(get_settings()).parameters()}


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _failure(aws: AwsClients, stack: dict[str, Any]) -> str:
    events = aws.cloudformation.describe_stack_events(StackName=stack["StackId"])["StackEvents"]
    return "; ".join(
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
        for e in events
        if e["ResourceStatus"].endswith("FAILED")
    )


def test_template_deploys_and_every_output_names_a_live_resource(
    aws: AwsClients, cfn_create_stack: Callable[..., dict[str, Any]]
) -> None:
    stack = cfn_create_stack(TEMPLATE_PATH.read_text(), _parameters())
    assert stack["StackStatus"] == "CREATE_COMPLETE", _failure(aws, stack)
    name = stack["StackName"]
    outputs = _outputs(stack)
    declared = load_template()["Outputs"]
    # Every output but those of AWS-only resources (`Condition: IsAws`, e.g. the ops alarm's topic).
    assert outputs.keys() == {k for k, v in declared.items() if v.get("Condition") != "IsAws"}
    assert "OperatorKeySecretArn" in outputs and "OpsAlertsTopicArn" not in outputs
    assert outputs["Environment"] == "local"

    for queue in QUEUES:
        attributes = aws.sqs.get_queue_attributes(
            QueueUrl=outputs[f"{queue}QueueUrl"], AttributeNames=["All"]
        )["Attributes"]
        assert attributes["QueueArn"] == outputs[f"{queue}QueueArn"]
        assert attributes["FifoQueue"] == "true"
        assert attributes["ContentBasedDeduplication"] == "false"
        assert json.loads(attributes["RedrivePolicy"]) == {
            "deadLetterTargetArn": outputs[f"{queue}DlqArn"],
            "maxReceiveCount": 4,
        }
        dlq = aws.sqs.get_queue_attributes(
            QueueUrl=outputs[f"{queue}DlqUrl"], AttributeNames=["QueueArn", "FifoQueue"]
        )["Attributes"]
        assert dlq == {"QueueArn": outputs[f"{queue}DlqArn"], "FifoQueue": "true"}
    assert outputs["NotificationOpsQueueUrl"].endswith(f"/{name}-notification-ops.fifo")

    for topic, contract in [
        ("PaymentEventsTopicArn", "payment-events"),
        ("WalletEventsTopicArn", "wallet-events"),
        ("MerchantEventsTopicArn", "merchant-events"),
    ]:
        assert outputs[topic].endswith(f":{name}-{contract}")
        aws.sns.get_topic_attributes(TopicArn=outputs[topic])

    bus = aws.events.describe_event_bus(Name=outputs["EventBusName"])
    assert bus["Arn"] == outputs["EventBusArn"]
    assert outputs["EventBusName"] == name

    table = aws.dynamodb.describe_table(TableName=outputs["PaymentEventStoreTableName"])["Table"]
    assert table["TableArn"] == outputs["PaymentEventStoreTableArn"]
    assert table["TableName"] == f"{name}-payment-events"
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {
        "stream_id": "HASH",
        "version": "RANGE",
    }

    jwt = aws.secretsmanager.get_secret_value(SecretId=outputs["JwtSigningKeySecretArn"])
    assert jwt["Name"] == f"{name}/jwt-signing-key"
    key = json.loads(jwt["SecretString"])["key"]
    assert len(key) == 64
    assert key.isalnum()
    credential = aws.secretsmanager.get_secret_value(
        SecretId=outputs["InternalServiceCredentialSecretArn"]
    )
    assert json.loads(credential["SecretString"])["username"] == "paylab-internal"

    # The outputs are enough to use a queue: no name is built by hand.
    aws.sqs.send_message(
        QueueUrl=outputs["AuditOpsQueueUrl"],
        MessageBody="op",
        MessageGroupId="pay-1",
        MessageDeduplicationId="evt-1",
    )
    assert [m["Body"] for m in receive(aws.sqs, outputs["AuditOpsQueueUrl"], 1)] == ["op"]

    # Deleting the stack removes what it created (`paylab down`, a redeploy from scratch).
    delete_stack(aws, stack["StackId"])
    with pytest.raises(ClientError):
        aws.sqs.get_queue_url(QueueName=f"{name}-audit-ops.fifo")
    with pytest.raises(ClientError):
        aws.dynamodb.describe_table(TableName=outputs["PaymentEventStoreTableName"])


def test_aws_only_resources_are_skipped_locally(
    aws: AwsClients, cfn_create_stack: Callable[..., dict[str, Any]]
) -> None:
    # The compute plane will sit behind IsAws with types LocalStack cannot create.
    template = load_template()
    template["Resources"] = {
        "Cluster": {"Type": "AWS::ECS::Cluster", "Condition": "IsAws"},
        "Topic": {"Type": "AWS::SNS::Topic"},
    }
    template["Outputs"] = {
        "ClusterArn": {"Condition": "IsAws", "Value": {"Fn::GetAtt": ["Cluster", "Arn"]}},
        "TopicArn": {"Value": {"Ref": "Topic"}},
    }
    stack = cfn_create_stack(yaml.safe_dump(template), _parameters())
    assert stack["StackStatus"] == "CREATE_COMPLETE", _failure(aws, stack)
    assert _outputs(stack).keys() == {"TopicArn"}
    resources = aws.cloudformation.describe_stack_resources(StackName=stack["StackId"])
    assert [r["LogicalResourceId"] for r in resources["StackResources"]] == ["Topic"]
