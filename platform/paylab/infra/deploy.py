"""Deploy the one CloudFormation template: create or update in place, report failures precisely."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from botocore.exceptions import ClientError

from paylab.core.aws import client
from paylab.core.settings import Settings

TEMPLATE = Path(__file__).with_name("template.yaml")
_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


class DeploymentError(Exception):
    """The stack did not reach a complete state; the message names the failing resource."""


def deploy(
    settings: Settings,
    progress: Callable[[str], None] = lambda _: None,
    timeout: float = 300.0,
    cfn: Any = None,
    template_body: str | None = None,
    parameters: dict[str, str] | None = None,
    template_url: str | None = None,
    poll_s: float = 0.25,
) -> dict[str, str]:
    """Create or update the stack from the template and return its outputs.

    The template goes by URL (`template_url`, as `artifacts.publish` uploaded it, else the
    file uploaded now); `template_body` sends a small one inline instead.
    """
    cfn = cfn or client("cloudformation", settings)
    name = settings.stack_name
    source: dict[str, str]
    if template_body is not None:
        source = {"TemplateBody": template_body}
    else:
        if not template_url:
            # The template is past TemplateBody's 51,200 bytes: it goes by URL from S3.
            from paylab.infra.artifacts import upload_template  # imports this module

            template_url = upload_template(settings, TEMPLATE.read_bytes())
        source = {"TemplateURL": template_url}
    values = {"Environment": settings.target.value, **(parameters or {})}
    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]
    status = _status(cfn, name)
    if status in STUCK:
        raise DeploymentError(stuck_message(cfn, name, status))
    if status == "ROLLBACK_COMPLETE":
        # A stack whose creation failed cannot be updated; AWS requires deleting it first.
        progress(f"deleting stack {name} left in ROLLBACK_COMPLETE")
        cfn.delete_stack(StackName=name)
        _wait(cfn, name, timeout, progress, poll_s)
        status = None
    if status is None or status == "DELETE_COMPLETE":
        progress(f"creating stack {name}")
        cfn.create_stack(StackName=name, **source, Parameters=params, Capabilities=_CAPABILITIES)
    else:
        try:
            cfn.update_stack(
                StackName=name, **source, Parameters=params, Capabilities=_CAPABILITIES
            )
            progress(f"updating stack {name}")
        except ClientError as exc:
            if "No updates are to be performed" not in str(exc):
                raise DeploymentError(f"stack {name}: {_message(exc)}") from exc
    final = _wait(cfn, name, timeout, progress, poll_s)
    if final not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise DeploymentError(f"stack {name} ended {final}: {_first_failure(cfn, name)}")
    return outputs(cfn, name)


def outputs(cfn: Any, name: str) -> dict[str, str]:
    """The stack's outputs as a plain mapping."""
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {out["OutputKey"]: out["OutputValue"] for out in stack.get("Outputs", [])}


def confirm_pending_subscriptions(
    settings: Settings, cfn: Any = None, sns: Any = None, http: Any = None
) -> list[str]:
    """LocalStack: confirm the stack's HTTP(S) subscriptions whose endpoint was not up yet.

    LocalStack 2026.3 sends the SubscriptionConfirmation once, when the subscription is
    created, never retries it, and answers a repeated Subscribe with the pending
    subscription without sending it again; it delivers nothing to a pending subscription
    (tests/integration/messaging/test_sns_push.py shows each). `up` deploys while the
    services boot, so their endpoints can miss it. LocalStack hands out the token on its
    developer endpoint; ConfirmSubscription with it is what the endpoint itself would do.
    Returns the confirmed subscription ARNs (none on AWS, where this does nothing).
    """
    endpoint = settings.endpoint_url()
    if endpoint is None:
        return []
    cfn = cfn or client("cloudformation", settings)
    sns = sns or client("sns", settings)
    get = http or httpx.get
    confirmed = []
    for topic, subs in _http_subscriptions(settings, cfn, sns):
        for sub in subs:
            arn = sub["SubscriptionArn"]
            if not arn.startswith("arn:"):
                # Listed as "PendingConfirmation": Subscribe is idempotent and returns its ARN.
                arn = sns.subscribe(
                    TopicArn=topic,
                    Protocol=sub["Protocol"],
                    Endpoint=sub["Endpoint"],
                    ReturnSubscriptionArn=True,
                )["SubscriptionArn"]
            attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
            if attributes.get("PendingConfirmation") != "true":
                continue
            response = get(f"{endpoint}/_aws/sns/subscription-tokens/{arn}", timeout=5)
            response.raise_for_status()
            sns.confirm_subscription(TopicArn=topic, Token=response.json()["subscription_token"])
            confirmed.append(arn)
    return confirmed


# States a deployment cannot go on from by itself: a person has to act first.
STUCK = ("ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED")


def stuck_message(cfn: Any, name: str, status: str) -> str:
    """What is wrong with a stack in one of the STUCK states, and what to do about it."""
    if status == "UPDATE_ROLLBACK_FAILED":
        remedy = (
            "fix the cause, run `aws cloudformation continue-update-rollback --stack-name"
            f" {name}`, then deploy again"
        )
    else:
        # A failed creation or deletion could not delete something: on AWS, typically the
        # database cluster or the event store, whose deletion protection is on once the
        # services have run (`paylab deploy` creates stacks without it). Only a person should
        # remove that.
        remedy = (
            "remove what could not be deleted (on AWS, turn off the deletion protection of the"
            " database cluster and the payment event store table first), delete the stack,"
            " then deploy again"
        )
    return f"stack {name} is {status}: {_first_failure(cfn, name)}. {remedy}"


def resend_pending_confirmations(settings: Settings, cfn: Any = None, sns: Any = None) -> list[str]:
    """AWS: have SNS send the confirmation of each pending HTTP(S) subscription again.

    SNS sends it when the stack creates the subscription, and retries for about a minute; on
    a first deployment the services start many minutes later (`paylab deploy`). A Subscribe
    for a pending subscription sends it again; the endpoint confirms it itself
    (`paylab.core.sns_push`). Returns the endpoints asked again.
    """
    cfn = cfn or client("cloudformation", settings)
    sns = sns or client("sns", settings)
    asked = []
    for topic, subs in _http_subscriptions(settings, cfn, sns):
        for sub in subs:
            if sub["SubscriptionArn"] == "PendingConfirmation":
                sns.subscribe(TopicArn=topic, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"])
                asked.append(sub["Endpoint"])
    return asked


def _http_subscriptions(
    settings: Settings, cfn: Any, sns: Any
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(topic ARN, its HTTP(S) subscriptions) for each of the stack's topics."""
    # ListStackResources, not DescribeStackResources: that one returns the first 100 only,
    # and the stack has more on AWS.
    pages = cfn.get_paginator("list_stack_resources").paginate(StackName=settings.stack_name)
    resources = [r for page in pages for r in page["StackResourceSummaries"]]
    for resource in resources:
        if resource["ResourceType"] != "AWS::SNS::Topic":
            continue
        topic = resource["PhysicalResourceId"]
        subs = sns.list_subscriptions_by_topic(TopicArn=topic).get("Subscriptions", [])
        yield topic, [sub for sub in subs if sub["Protocol"] in ("http", "https")]


def _status(cfn: Any, name: str) -> str | None:
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return str(stacks[0]["StackStatus"]) if stacks else None


def _wait(
    cfn: Any, name: str, timeout: float, progress: Callable[[str], None], poll_s: float = 0.25
) -> str | None:
    """The stack's status once no longer in progress (polled every `poll_s`: LocalStack takes
    seconds, so 0.25; AWS minutes, and throttles DescribeStacks, so `paylab deploy` polls less)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        status = _status(cfn, name)
        if status != last:
            progress(f"stack {name}: {status}")
            last = status
        if status is None or not status.endswith("_IN_PROGRESS"):
            return status
        if time.monotonic() > deadline:
            raise DeploymentError(f"stack {name} still {status} after {timeout:.0f} s")
        time.sleep(poll_s)


def _first_failure(cfn: Any, name: str) -> str:
    """The earliest failed resource and its reason: the cause, not the cascade."""
    try:
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    except ClientError as exc:
        return _message(exc)
    failed = [
        e
        for e in events
        if str(e.get("ResourceStatus", "")).endswith("FAILED")
        and e.get("LogicalResourceId") != name
    ]
    if not failed:
        return "no failed resource reported"
    first = min(failed, key=lambda e: e["Timestamp"])
    return (
        f"{first['LogicalResourceId']} ({first.get('ResourceType', '?')}): "
        f"{first.get('ResourceStatusReason', 'no reason given')}"
    )


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", exc))
