"""Stack deployment: create or update in place, and name the resource that failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from paylab.core.settings import Settings
from paylab.infra.deploy import DeploymentError, deploy


def _error(message: str) -> ClientError:
    return ClientError({"Error": {"Code": "ValidationError", "Message": message}}, "Op")


class FakeCloudFormation:
    """Just enough CloudFormation to drive deploy() through its branches."""

    def __init__(
        self,
        statuses: list[str | None],
        events: list[dict[str, Any]] | None = None,
        update_error: str | None = None,
    ) -> None:
        self.statuses = statuses
        self.events = events or []
        self.update_error = update_error
        self.calls: list[str] = []
        self.sources: list[set[str]] = []

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if status is None:
            raise _error(f"Stack with id {StackName} does not exist")
        return {
            "Stacks": [
                {
                    "StackStatus": status,
                    "Outputs": [{"OutputKey": "BusName", "OutputValue": "paylab"}],
                }
            ]
        }

    def create_stack(self, **kwargs: Any) -> None:
        self.calls.append("create")
        self.sources.append(kwargs.keys() & {"TemplateBody", "TemplateURL"})

    def update_stack(self, **kwargs: Any) -> None:
        self.calls.append("update")
        self.sources.append(kwargs.keys() & {"TemplateBody", "TemplateURL"})
        if self.update_error:
            raise _error(self.update_error)

    def delete_stack(self, **_: Any) -> None:
        self.calls.append("delete")

    def describe_stack_events(self, StackName: str) -> dict[str, Any]:
        return {"StackEvents": self.events}


URL = "http://127.0.0.1:4566/paylab-artifacts-000000000000/templates/paylab-0.yaml"


def test_new_stack_is_created_and_its_outputs_returned() -> None:
    cfn = FakeCloudFormation([None, "CREATE_IN_PROGRESS", "CREATE_COMPLETE"])
    assert deploy(Settings(), cfn=cfn, template_url=URL) == {"BusName": "paylab"}
    assert cfn.calls == ["create"]


def test_the_published_template_goes_by_url() -> None:
    """An inline TemplateBody is limited to 51,200 bytes; the template in S3 to 1 MB."""
    cfn = FakeCloudFormation(["CREATE_COMPLETE"], update_error="No updates are to be performed.")
    deploy(Settings(), cfn=cfn, template_url="http://127.0.0.1:4566/b/templates/t.yaml")
    cfn2 = FakeCloudFormation([None, "CREATE_COMPLETE"])
    deploy(Settings(), cfn=cfn2, template_body="Resources: {}")
    assert (cfn.sources, cfn2.sources) == ([{"TemplateURL"}], [{"TemplateBody"}])


def test_unchanged_stack_is_left_alone() -> None:
    cfn = FakeCloudFormation(["CREATE_COMPLETE"], update_error="No updates are to be performed.")
    assert deploy(Settings(), cfn=cfn, template_url=URL) == {"BusName": "paylab"}
    assert cfn.calls == ["update"]


def test_failed_creation_is_deleted_before_trying_again() -> None:
    cfn = FakeCloudFormation(
        ["ROLLBACK_COMPLETE", "DELETE_IN_PROGRESS", None, "CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    )
    deploy(Settings(), cfn=cfn, template_url=URL)
    assert cfn.calls == ["delete", "create"]


def test_failure_names_the_first_failed_resource_not_the_cascade() -> None:
    t0 = datetime(2026, 12, 4, tzinfo=UTC)
    events = [
        {
            "LogicalResourceId": "Topic",
            "ResourceType": "AWS::SNS::Topic",
            "ResourceStatus": "CREATE_FAILED",
            "ResourceStatusReason": "cancelled",
            "Timestamp": t0 + timedelta(seconds=2),
        },
        {
            "LogicalResourceId": "Queue",
            "ResourceType": "AWS::SQS::Queue",
            "ResourceStatus": "CREATE_FAILED",
            "ResourceStatusReason": "bad FIFO name",
            "Timestamp": t0 + timedelta(seconds=1),
        },
        {
            "LogicalResourceId": "paylab",
            "ResourceType": "AWS::CloudFormation::Stack",
            "ResourceStatus": "CREATE_FAILED",
            "ResourceStatusReason": "whole stack",
            "Timestamp": t0,
        },
    ]
    cfn = FakeCloudFormation([None, "CREATE_IN_PROGRESS", "ROLLBACK_COMPLETE"], events)
    with pytest.raises(DeploymentError, match=r"Queue \(AWS::SQS::Queue\): bad FIFO name"):
        deploy(Settings(), cfn=cfn, template_url=URL)


def test_update_refused_for_another_reason_is_an_error() -> None:
    cfn = FakeCloudFormation(["UPDATE_COMPLETE"], update_error="Template format error: bad")
    with pytest.raises(DeploymentError, match="Template format error"):
        deploy(Settings(), cfn=cfn, template_url=URL)


@pytest.mark.parametrize("status", ["ROLLBACK_FAILED", "DELETE_FAILED"])
def test_a_stack_that_could_not_be_cleaned_up_is_left_to_a_person(status: str) -> None:
    """A failed first creation on AWS cannot delete a deletion-protected database cluster."""
    events = [
        {
            "LogicalResourceId": "ComputePlane",
            "ResourceType": "AWS::CloudFormation::Stack",
            "ResourceStatus": "DELETE_FAILED",
            "ResourceStatusReason": "cluster has deletion protection",
            "Timestamp": datetime(2026, 12, 4, tzinfo=UTC),
        }
    ]
    cfn = FakeCloudFormation([status], events)
    with pytest.raises(DeploymentError, match=f"is {status}: ComputePlane .*deletion protection"):
        deploy(Settings(), cfn=cfn, template_url=URL)
    assert cfn.calls == []
