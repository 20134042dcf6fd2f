"""A deployment that fails on LocalStack names the failing resource and its reason."""

from __future__ import annotations

import uuid

import pytest

from paylab.core.aws import client
from paylab.core.settings import Settings
from paylab.infra.deploy import DeploymentError, deploy

# A FIFO queue whose name lacks the mandatory `.fifo` suffix: SQS refuses it.
_BROKEN = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Environment: {Type: String, Default: local}
Resources:
  Fine:
    Type: AWS::SNS::Topic
  BadQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-not-fifo"
      FifoQueue: true
"""


def test_failed_deployment_names_the_resource_and_reason() -> None:
    settings = Settings(stack_name=f"paylab-it-broken-{uuid.uuid4().hex[:8]}")
    try:
        with pytest.raises(DeploymentError) as failure:
            deploy(settings, template_body=_BROKEN, timeout=60)
        message = str(failure.value)
        assert "BadQueue (AWS::SQS::Queue)" in message
        assert "fifo" in message.lower()
    finally:
        client("cloudformation", settings).delete_stack(StackName=settings.stack_name)
