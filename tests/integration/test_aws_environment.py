"""The template with Environment=aws, on LocalStack: "one setting changes" is deployable.

LocalStack cannot create the compute plane (ECS, Aurora, ElastiCache, API Gateway v2 need its
paid edition), so it is stood in for by a nested template with compute.yaml's parameters and
outputs and its real VPC, private subnets and security groups (literal ranges and zones:
LocalStack does not evaluate `Fn::Cidr` under `Fn::Select`). Everything else is the real
template on its AWS branch: the Rules, the AWS-only resources, every `!If [IsAws, ...]`.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from paylab.core.settings import get_settings
from paylab.infra.artifacts import COMPUTE_TEMPLATE, Artifacts, _put_once, publish
from paylab.infra.template import TEMPLATE_PATH, load_template

from .resources import AwsClients

# What `paylab deploy` passes besides the artifacts (aws_deploy.Release.parameters).
RELEASE = {
    "Environment": "aws",
    "PlatformImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/paylab:test",
    "PseUrl": "https://pse.example",
    "BankUrl": "https://bank.example",
    "AntifraudUrl": "https://antifraud.example",
    "SmsUrl": "https://sms.example",
    "SenderEmail": "pagos@example.co",
    "CheckoutReturnUrl": "https://shop.example/return",
    "ServiceDesiredCount": "0",
}
_REAL = (
    "Vpc",
    "PrivateSubnetA",
    "PrivateSubnetB",
    "LambdaSecurityGroup",
    "DbRotationSecurityGroup",
    "ServicesSecurityGroup",
)
_REAL_OUTPUTS = (
    "PrivateSubnetIds",
    "LambdaSecurityGroupId",
    "DbRotationSecurityGroupId",
    "ServicesSecurityGroupId",
)


def _stand_in(artifacts: Artifacts) -> str:
    """Publish the compute plane's stand-in; its key (content-addressed, like the real one)."""
    compute = load_template(COMPUTE_TEMPLATE)
    resources = copy.deepcopy({name: compute["Resources"][name] for name in _REAL})
    for i, name in enumerate(("PrivateSubnetA", "PrivateSubnetB")):
        resources[name]["Properties"]["CidrBlock"] = f"10.40.{128 + 16 * i}.0/20"
        resources[name]["Properties"]["AvailabilityZone"] = f"us-east-1{'ab'[i]}"
    outputs = {
        key: {
            "Value": f"https://compute.example/{key}"
            if "Url" in key or "Endpoint" in key
            else f"stand-in-{key}"
        }
        for key in compute["Outputs"]
    }
    outputs.update({key: compute["Outputs"][key] for key in _REAL_OUTPUTS})
    stand_in = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {k: {"Type": v["Type"]} for k, v in compute["Parameters"].items()},
        "Resources": resources,
        "Outputs": outputs,
    }
    body = yaml.safe_dump(stand_in).encode()
    key = f"templates/compute-stand-in-{hashlib.sha256(body).hexdigest()[:20]}.yaml"
    from paylab.core.aws import client

    _put_once(client("s3", get_settings()), artifacts.bucket, key, body)
    return key


@pytest.fixture(scope="module")
def aws_parameters() -> dict[str, str]:
    artifacts = publish(get_settings())
    return {**artifacts.parameters(), **RELEASE, "ComputeTemplateKey": _stand_in(artifacts)}


def test_the_template_deploys_on_its_aws_branch_and_wires_the_lambdas_to_the_compute_plane(
    aws: AwsClients,
    cfn_create_stack: Callable[..., dict[str, Any]],
    aws_parameters: dict[str, str],
) -> None:
    stack = cfn_create_stack(TEMPLATE_PATH.read_text(), aws_parameters)
    events = aws.cloudformation.describe_stack_events(StackName=stack["StackId"])["StackEvents"]
    failed = [
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
        for e in events
        if e["ResourceStatus"].endswith("FAILED")
    ]
    assert stack["StackStatus"] == "CREATE_COMPLETE", failed
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs.keys() == set(load_template()["Outputs"])  # the AWS-only ones too
    assert outputs["ApiUrl"] == "https://compute.example/ApiUrl"
    subnets = outputs["PrivateSubnetIds"].split(",")
    assert len(subnets) == 2 and all(s.startswith("subnet-") for s in subnets)

    name = stack["StackName"]
    nested = aws.cloudformation.describe_stack_resource(
        StackName=stack["StackId"], LogicalResourceId="ComputePlane"
    )["StackResourceDetail"]["PhysicalResourceId"]
    plane = aws.cloudformation.describe_stacks(StackName=nested)["Stacks"][0]["Outputs"]
    groups = {
        o["OutputKey"].removesuffix("SecurityGroupId"): o["OutputValue"]
        for o in plane
        if o["OutputKey"].endswith("SecurityGroupId")
    }
    in_vpc = 0
    for resource in load_template()["Resources"].values():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        function = resource["Properties"]["FunctionName"]["Fn::Sub"].replace(
            "${AWS::StackName}", name
        )
        config = aws.lambda_.get_function_configuration(FunctionName=function)
        variables = config.get("Environment", {}).get("Variables", {})
        urls = {k: v for k, v in variables.items() if k.endswith("_URL")}
        vpc = config.get("VpcConfig") or {}
        if urls or function.endswith("-rotate-postgres"):
            in_vpc += 1
            assert sorted(vpc.get("SubnetIds", [])) == sorted(subnets), function
            # Only the password rotation reaches the database (its own security group).
            group = "DbRotation" if function.endswith("-rotate-postgres") else "Lambda"
            assert vpc["SecurityGroupIds"] == [groups[group]], function
            for variable, url in urls.items():
                assert url.startswith("https://compute.example/"), (function, variable, url)
        else:
            assert not vpc.get("SubnetIds"), function
    assert in_vpc >= 10

    pushes = aws.sns.list_subscriptions_by_topic(TopicArn=outputs["PaymentEventsTopicArn"])
    (push,) = [s for s in pushes["Subscriptions"] if s["Protocol"].startswith("http")]
    assert (push["Protocol"], push["Endpoint"]) == (
        "https",
        "https://compute.example/NotificationPushEndpoint",
    )
