"""Fixes for LocalStack CloudFormation behaviour that differs from AWS in ways Paylab relies on."""

import logging
from collections.abc import Callable
from typing import Any

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)

PENDING = "pending confirmation"


def http_subscriptions_are_identified_by_their_arn() -> None:
    """Give an AWS::SNS::Subscription its subscription ARN as physical id, as AWS does.

    LocalStack 2026.3.0's provider keeps what Subscribe answers, and for an HTTP(S) endpoint
    that has not confirmed yet that is the text "pending confirmation": the stack can then never
    be deleted (Unsubscribe("pending confirmation") is refused, the stack ends DELETE_FAILED),
    and every such subscription of the stack shares one id. AWS CloudFormation asks for the
    ARN (ReturnSubscriptionArn); here it is looked up on the topic by protocol and endpoint,
    which identify a subscription (SNS answers a repeated Subscribe with the same one).
    """
    from localstack.services.sns.resource_providers.aws_sns_subscription import (
        SNSSubscriptionProvider,
    )
    from localstack.utils.patch import patch

    @patch(SNSSubscriptionProvider.create)
    def create(fn: Callable[..., Any], self: Any, request: Any) -> Any:
        event = fn(self, request)
        model = event.resource_model
        if model and model.get("Id") == PENDING:
            sns = request.aws_client_factory.sns
            pages = sns.get_paginator("list_subscriptions_by_topic").paginate(
                TopicArn=model["TopicArn"]
            )
            for page in pages:
                for sub in page.get("Subscriptions", []):
                    same = sub["Protocol"] == model["Protocol"]
                    if same and sub.get("Endpoint") == model.get("Endpoint"):
                        model["Id"] = sub["SubscriptionArn"]
        return event


@hooks.on_infra_start(priority=100)
def paylab_cfn_fixes() -> None:
    """Apply Paylab's CloudFormation conformance fixes."""
    http_subscriptions_are_identified_by_their_arn()
    LOG.debug("paylab CloudFormation fixes applied")
