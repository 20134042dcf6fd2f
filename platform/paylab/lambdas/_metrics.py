"""Gauges the scheduled jobs put in CloudWatch (namespace `Paylab/Operations`, dimension
`Stack`), which the template's operations alarms watch on AWS."""

from __future__ import annotations

import os
from typing import Any

import boto3

NAMESPACE = "Paylab/Operations"


def cloudwatch() -> Any:
    """The CloudWatch client (tests put a fake here)."""
    return boto3.client("cloudwatch")


def put_gauges(values: dict[str, int]) -> None:
    """One data point per gauge, now (PAYLAB_STACK_NAME names the stack)."""
    stack = os.environ["PAYLAB_STACK_NAME"]
    cloudwatch().put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": "Stack", "Value": stack}],
                "Value": value,
                "Unit": "Count",
            }
            for name, value in values.items()
        ],
    )
