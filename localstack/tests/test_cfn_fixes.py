"""cfn_fixes.py: a stack with HTTP subscriptions that never confirmed can be deleted."""

import json
import uuid

from conftest import LocalStack, client, wait_until

# Port 9 (discard) on loopback: nothing listens, so the subscriptions stay pending.
TEMPLATE = {
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic"},
        "First": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": {"Ref": "Topic"},
                "Protocol": "http",
                "Endpoint": "http://127.0.0.1:9/first",
            },
        },
        "Second": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": {"Ref": "Topic"},
                "Protocol": "http",
                "Endpoint": "http://127.0.0.1:9/second",
            },
        },
    }
}


def _status(cfn: object, stack_id: str) -> str:
    return str(cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"])  # type: ignore[attr-defined]


def test_pending_http_subscriptions_have_arns_and_their_stack_deletes(
    localstack: LocalStack,
) -> None:
    cfn, sns = client("cloudformation"), client("sns")
    stack_id = cfn.create_stack(
        StackName=f"t-subs-{uuid.uuid4().hex[:8]}", TemplateBody=json.dumps(TEMPLATE)
    )["StackId"]
    assert wait_until(lambda: not _status(cfn, stack_id).endswith("IN_PROGRESS"), timeout=30)
    assert _status(cfn, stack_id) == "CREATE_COMPLETE"

    resources = cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
    ids = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
    assert ids["First"].startswith(f"{ids['Topic']}:") and ids["Second"].startswith("arn:aws:sns:")
    assert ids["First"] != ids["Second"]
    listed = sns.list_subscriptions_by_topic(TopicArn=ids["Topic"])["Subscriptions"]
    assert {s["Endpoint"] for s in listed} == {
        "http://127.0.0.1:9/first",
        "http://127.0.0.1:9/second",
    }

    cfn.delete_stack(StackName=stack_id)
    assert wait_until(lambda: not _status(cfn, stack_id).endswith("IN_PROGRESS"), timeout=30)
    assert _status(cfn, stack_id) == "DELETE_COMPLETE"
